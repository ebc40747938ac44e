"""common/run.py on its own: what a step record holds, when a checkpoint is offered, how a stop
is asked for (from another thread too) and that the first ending stands."""
from __future__ import annotations

import math
import threading

import numpy as np

from common.records import Checkpoint
from common.run import Kind, Run
from common.terms import AdamMoments, LossTerms

IMAGE = np.zeros((1, 3, 4, 6), np.float32)


class Recording(Run):
    keeps_checkpoints = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen, self.checkpoints = [], []

    def on_step(self, record, picture):
        self.seen.append((record.step, picture().shape))

    def on_checkpoint(self, checkpoint):
        self.checkpoints.append(checkpoint)


def _run(**kwargs) -> Recording:
    run = Recording(**kwargs)
    run.planned, run._postprocess = 10, lambda x: x[0].transpose(1, 2, 0)
    run.at(2, (4, 6))
    return run


def _terms(total=3.0):
    return LossTerms(1.0, 2.0, 0.0, total)


def _position(done=1):
    return lambda: (done, IMAGE + done, AdamMoments(done, IMAGE, IMAGE))


def test_a_step_is_recorded_told_and_where_the_run_is():
    run = _run()
    assert run.record(_terms(), 0.3, 0.5, lambda: IMAGE, _position())
    (record,) = run.records
    assert (record.step, record.total, record.lr, record.seconds) == (1, 3.0, 0.3, 0.5)
    assert (record.size_index, record.height, record.width) == (2, 4, 6)
    assert run.seen == [(1, (4, 6, 3))] and run.ending is None and run.checkpoints == []


def test_a_checkpoint_is_offered_every_n_steps_and_asks_for_the_state_only_then():
    run, asked = _run(checkpoint_every=2), []

    def position():
        asked.append(len(run.records))
        return 7, IMAGE, None

    for _ in range(5):
        run.record(_terms(), 0.3, 0.1, lambda: IMAGE, position)
    assert asked == [2, 4] and [c.done for c in run.checkpoints] == [7, 7]
    assert [len(c.records) for c in run.checkpoints] == [2, 4] and run.checkpoints[0].size_index == 2


def test_a_plain_run_never_asks_for_a_checkpoint():
    run = Run(checkpoint_every=1)
    run._postprocess = lambda x: x
    run.record(_terms(), 0.3, 0.1, lambda: IMAGE, lambda: (_ for _ in ()).throw(AssertionError("asked")))


def test_a_stop_requested_from_another_thread_ends_at_the_next_step_with_a_checkpoint():
    run = _run()
    assert run.record(_terms(), 0.3, 0.1, lambda: IMAGE, _position(1))
    thread = threading.Thread(target=run.request_stop, args=("the page's Stop",))
    thread.start()
    thread.join()
    assert not run.record(_terms(), 0.3, 0.1, lambda: IMAGE, _position(2))
    assert run.ending == (Kind.INTERRUPTED, "interrupted (the page's Stop) after 2 of 10 steps; saved the image from step 2")
    assert [c.done for c in run.checkpoints] == [2]  # the state at the stop is whole: kept


def test_a_non_finite_loss_ends_the_run_keeping_the_image_before_it():
    run, before = _run(), IMAGE + 1
    run.record(_terms(), 0.3, 0.1, lambda: before, _position())
    assert not run.record(LossTerms(math.nan, 2.0, 0.0, math.nan), 0.3, 0.1, lambda: IMAGE, _position())
    assert run.ending.kind is Kind.NOT_FINITE and "content=nan" in run.ending.message and "step 2" in run.ending.message
    assert len(run.records) == 1 and run.kept() is before and run.seen == [(1, (4, 6, 3))]


def test_the_first_ending_stands_and_a_new_size_forgets_the_kept_image():
    run = _run()
    run.record(_terms(), 0.3, 0.1, lambda: IMAGE, _position())
    run.end(Kind.OUT_OF_MEMORY, "first")
    run.end(Kind.FINISHED, "second")
    assert run.ending == (Kind.OUT_OF_MEMORY, "first") and not run.finished
    run.at(3, (8, 12))
    assert run.kept() is None


def test_a_resumed_run_continues_its_records_and_its_clock():
    start = Checkpoint(1, 3, IMAGE, None, [], 100.0)
    run = Run(start)
    assert run.start is start and run.elapsed() >= 100.0


def test_the_plateau_rule_ends_a_size_whose_loss_stopped_improving_and_says_so():
    from common.config import Plateau

    run = _run()
    run.plateau = Plateau(window=3, fraction=0.01)
    totals = [100.0, 90.0, 80.0, 79.9, 79.8, 79.7]  # 80 -> 79.7 over the last 3: 0.4 %
    goes = [run.record(_terms(t), 0.3, 0.1, lambda: IMAGE, _position()) for t in totals]
    assert goes == [True] * 5 + [False] and run.ending is None  # the size is done; the run is not over
    assert run.notes == ["size 2 (4x6) done after 6 steps: its loss improved 0.375 % in the last 3 (less than 1 %)"]


def test_the_plateau_rule_judges_l_bfgs_by_its_best_loss_and_only_this_size():
    from common.config import Plateau

    run = _run()
    run.plateau = Plateau(window=2, fraction=0.01)
    run.record(_terms(50.0), None, 0.1, lambda: IMAGE, _position())  # size 2
    run.at(3, (8, 12), 10)
    # a line search's trial above the best is no plateau while the best still falls
    assert all(run.record(_terms(t), None, 0.1, lambda: IMAGE, _position()) for t in (100.0, 90.0, 200.0, 80.0))
    assert run.record(_terms(300.0), None, 0.1, lambda: IMAGE, _position())  # best 80 vs 90 two steps ago: 11 %
    assert not run.record(_terms(81.0), None, 0.1, lambda: IMAGE, _position())  # best 80 vs 80: flat


def test_a_checkpoint_due_at_a_flat_step_says_the_size_is_done():
    from common.config import Plateau

    run = _run(checkpoint_every=3)
    run.at(2, (4, 6), 50)
    run.plateau = Plateau(window=2, fraction=0.5)
    for total in (10.0, 9.0, 8.0):
        run.record(_terms(total), 0.3, 0.1, lambda: IMAGE, _position(len(run.records) + 1))
    assert [c.done for c in run.checkpoints] == [50]  # a resumed run goes on at the next size, as this one does
