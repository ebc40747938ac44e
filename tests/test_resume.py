"""Checkpoints and resume: a run stopped anywhere and resumed ends exactly as the run that was
never stopped (Adam, both backends, across sizes), and a finished run goes on for more steps
exactly as a longer run would; another run's checkpoint is refused by name."""
from __future__ import annotations

import json
import os
import signal
import stat

import numpy as np
import pytest

from common.tools.cli.signals import Stop
from common.tools.io import checkpoints as checkpoint
from common.config import Schedule, Scales, TransferConfig
from common.errors import UserError
from common.records import Resumable
from common.transfer import transfer

from .conftest import cpu_backend, synthetic_image

SIZE = (40, 56)


def config(**changes) -> TransferConfig:
    fields = dict(size=SIZE, schedule=Schedule(7, 0.3, 3, 0.8), scales=Scales(2, 1.25, 4, 0.1, "resize"))
    fields.update(changes)
    return TransferConfig(**fields).validate()


def losses(records):
    return [(r.step, r.content, r.style, r.tv, r.total, r.lr, r.scale, r.height, r.width) for r in records]


@pytest.fixture(scope="module")
def inputs():
    return synthetic_image(1, SIZE), synthetic_image(2, (48, 48))


@pytest.mark.parametrize("moments", ["resize", "reset"])
def test_resuming_anywhere_is_bit_identical_with_adam(backend_name, inputs, moments):
    backend = cpu_backend(backend_name)
    cfg = config(scales=Scales(2, 1.25, 4, 0.1, moments))
    states = []
    full = transfer(backend, *inputs, cfg, on_state=states.append, state_every=2)
    # every 2 steps, plus the end: mid-size, at the end of the first size (step 4), mid final size
    assert [(s.scale, s.done) for s in states] == [(1, 2), (1, 4), (2, 2), (2, 4), (2, 6), (2, 7)]
    for state in states[:-1]:
        resumed = transfer(backend, *inputs, cfg, resume=state)
        assert np.array_equal(resumed.image, full.image), (state.scale, state.done)
        assert losses(resumed.records) == losses(full.records)
        assert resumed.picture_loss == full.picture_loss


def test_a_checkpoint_file_round_trips_exactly(backend_name, inputs, tmp_path):
    backend = cpu_backend(backend_name)
    cfg = config()
    states = []
    full = transfer(backend, *inputs, cfg, on_state=states.append, state_every=5)
    ident = checkpoint.identity(backend=backend_name, config=cfg)
    path = checkpoint.save(tmp_path / "run.ckpt", states[0], ident)  # any suffix: the file is an .npz inside
    state, saved = checkpoint.load(path)
    assert saved == ident and (state.scale, state.done) == (2, 1)
    assert np.array_equal(state.image, states[0].image) and state.adam.step == states[0].adam.step
    assert np.array_equal(state.adam.m, states[0].adam.m) and np.array_equal(state.adam.v, states[0].adam.v)
    assert state.records == states[0].records
    assert np.array_equal(transfer(backend, *inputs, cfg, resume=state).image, full.image)


def test_a_stop_asked_for_ends_at_a_step_boundary_with_a_state_that_resumes_exactly(backend_name, inputs):
    backend = cpu_backend(backend_name)
    cfg = config(scales=Scales())
    full = transfer(backend, *inputs, cfg)
    asked, states = [], []

    def on_step(record, current):
        if record.step == 3:
            asked.append("the caller's reason")

    stopped = transfer(backend, *inputs, cfg, on_step, should_stop=lambda: asked[0] if asked else None,
                       on_state=states.append)
    assert "interrupted (the caller's reason) after 3 of 7" in stopped.stopped and stopped.interrupted
    assert [(s.scale, s.done) for s in states] == [(1, 3)]
    resumed = transfer(backend, *inputs, cfg, resume=states[0])
    assert np.array_equal(resumed.image, full.image) and losses(resumed.records) == losses(full.records)


def test_the_command_line_s_signals_wait_for_a_step_boundary(backend_name, inputs):
    backend = cpu_backend(backend_name)
    cfg = config(scales=Scales())
    full = transfer(backend, *inputs, cfg)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)  # Ray's, once it ran here
    for signum in (signal.SIGINT, signal.SIGTERM):
        states = []
        with Stop() as stop:
            def on_step(record, current):
                stop.defer()
                if record.step == 3:
                    os.kill(os.getpid(), signum)  # arrives during the step's bookkeeping, as a real Ctrl-C might

            stopped = transfer(backend, *inputs, cfg, on_step, should_stop=stop.should_stop, on_state=states.append)
        assert f"interrupted ({signal.Signals(signum).name}) after 3 of 7" in stopped.stopped
        assert [(s.scale, s.done) for s in states] == [(1, 3)]
        resumed = transfer(backend, *inputs, cfg, resume=states[0])
        assert np.array_equal(resumed.image, full.image) and losses(resumed.records) == losses(full.records)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # given back


@pytest.fixture
def python_s_own_sigint():
    """Python's default SIGINT handler (KeyboardInterrupt) for the test: pytest-xdist's workers
    may inherit SIGINT ignored, since their controller handles Ctrl-C."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_the_core_touches_no_signal_handler_and_ctrl_c_keeps_the_last_image(inputs, python_s_own_sigint):
    backend = cpu_backend("torch")
    cfg = config(scales=Scales())
    seen = []
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert before[0] is signal.default_int_handler

    def on_step(record, current):
        seen.append((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        if record.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # Python's own handler: KeyboardInterrupt, here and now

    stopped = transfer(backend, *inputs, cfg, on_step)
    assert set(seen) == {before}  # the loop installed nothing
    assert stopped.interrupted and "after 3 of 7" in stopped.stopped and stopped.picture_loss is None
    assert stopped.image.shape == (*SIZE, 3)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_finished_run_goes_on_for_more_steps_exactly_as_a_longer_run(backend_name, inputs, optimizer):
    backend = cpu_backend(backend_name)
    short, long = config(optimizer=optimizer), config(optimizer=optimizer, schedule=Schedule(11, 0.3, 3, 0.8))
    states = []
    transfer(backend, *inputs, short, on_state=states.append)
    finished = states[-1]
    assert (finished.scale, finished.done) == (2, 7)
    ident = dict(backend=backend_name, config=short)
    checkpoint.check_same(checkpoint.identity(**ident), checkpoint.identity(**{**ident, "config": long}),
                          finished, long, "run.npz")  # more steps: allowed
    with pytest.raises(checkpoint.CheckpointError, match="has run 7 steps at the final size, more than the 5"):
        fewer = config(optimizer=optimizer, schedule=Schedule(5, 0.3, 3, 0.8))
        checkpoint.check_same(checkpoint.identity(**ident), checkpoint.identity(**{**ident, "config": fewer}),
                              finished, fewer, "run.npz")
    more = transfer(backend, *inputs, long, resume=finished)
    if optimizer == "adam":  # Adam's state is in the checkpoint: the continuation is exact
        unbroken = transfer(backend, *inputs, long)
        assert np.array_equal(more.image, unbroken.image) and losses(more.records) == losses(unbroken.records)
    else:  # SciPy's curvature pairs are not: it restarts from the best image with the 4 evaluations added
        assert len(more.records) == 4 + 4 + 7 and more.records[-1].step == 15


def test_lbfgs_resumes_from_the_saved_image_with_the_remaining_evaluations(inputs):
    backend = cpu_backend("torch")
    cfg = config(optimizer="lbfgs", scales=Scales())
    states = []
    full = transfer(backend, *inputs, cfg, on_state=states.append, state_every=4)
    resumed = transfer(backend, *inputs, cfg, resume=states[0])
    assert [r.step for r in resumed.records] == list(range(1, 8))
    assert losses(resumed.records[:4]) == losses(full.records[:4])
    # SciPy's curvature pairs are gone: evaluation 5 restarts at the best image evaluated so far
    assert resumed.records[4].total == pytest.approx(min(r.total for r in full.records[:4]), rel=1e-6)


def _ident(**changes):
    parts = dict(backend="torch", framework="torch 2.x", config=config(), precision="fp32", weights="random",
                 content="aa", styles=["bb"])
    parts.update(changes)
    return checkpoint.identity(**parts)


@pytest.mark.parametrize("changes, named", [
    (dict(backend="mxnet"), "backend"),
    (dict(framework="torch 3.0"), "framework"),
    (dict(config=config(schedule=Schedule(7, 0.1, 3, 0.8))), "config.schedule.lr"),
    (dict(config=config(size=(40, 60))), "config.size"),
    (dict(styles=["cc"]), "styles"),
    (dict(precision="bf16"), "precision"),
])
def test_another_runs_checkpoint_is_refused_naming_the_difference(changes, named):
    position = Resumable(1, 1, np.zeros((1, 3, 40, 56), np.float32), None, [], 0.0)
    with pytest.raises(checkpoint.CheckpointError, match=rf"made with {named} = .*this run has"):
        checkpoint.check_same(_ident(), _ident(**changes), position, config(), "run.npz")
    checkpoint.check_same(_ident(), _ident(), position, config(), "run.npz")  # the same run passes


def test_damaged_foreign_or_pickled_checkpoints_are_one_line(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    old = tmp_path / "old.npz"
    np.savez(old, image=np.zeros((1, 3, 8, 8), np.float32),
             meta=np.array(json.dumps({"identity": {"format": 0}, "scale": 1, "done": 0, "elapsed": 0,
                                       "adam_step": None, "records": []})))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, image=np.zeros((1, 3, 8, 8), np.float32), meta=np.array([{"a": 1}], dtype=object))
    for path, words in [(tmp_path / "none.npz", "no such file"), (garbage, "not a readable checkpoint"),
                        (old, "format 0"), (pickled, "not a readable checkpoint")]:
        with pytest.raises(UserError, match=words) as info:
            checkpoint.load(path)
        assert "\n" not in str(info.value)


def test_checkpoints_get_the_permissions_open_would_give(inputs, tmp_path):
    states = []
    transfer(cpu_backend("torch"), *inputs, config(scales=Scales()), on_state=states.append, state_every=0)
    for mask in (0o022, 0o077):
        previous = os.umask(mask)
        try:
            path = checkpoint.save(tmp_path / f"run{mask}.npz", states[-1], {})
        finally:
            os.umask(previous)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
