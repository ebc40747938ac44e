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
from common.records import Checkpoint
from common.run import Run
from common.transfer import transfer

from ..conftest import cpu_backend, synthetic_image
from ..core.test_transfer import Recording, losses

SIZE = (40, 56)


def config(**changes) -> TransferConfig:
    fields = dict(size=SIZE, schedule=Schedule(7, 0.3, 3, 0.8), scales=Scales(2, 1.25, 4, 0.1, "resize"))
    fields.update(changes)
    return TransferConfig(**fields).validate()


@pytest.fixture(scope="module")
def inputs():
    return synthetic_image(1, SIZE), synthetic_image(2, (48, 48))


def test_a_checkpoint_file_round_trips_exactly(backend_name, inputs, tmp_path):
    backend = cpu_backend(backend_name)
    cfg = config()
    full = transfer(backend, *inputs, cfg, Recording(checkpoint_every=5))
    states = full.checkpoints
    ident = checkpoint.identity(backend=backend_name, config=cfg)
    path = checkpoint.save(tmp_path / "run.ckpt", states[0], ident)  # any suffix: the file is an .npz inside
    state, saved = checkpoint.load(path)
    assert saved == ident and (state.size_index, state.done) == (2, 1)
    assert np.array_equal(state.image, states[0].image) and state.moments.step == states[0].moments.step
    assert np.array_equal(state.moments.m, states[0].moments.m) and np.array_equal(state.moments.v, states[0].moments.v)
    assert state.records == states[0].records
    assert np.array_equal(transfer(backend, *inputs, cfg, Run(state)).picture, full.picture)


def test_the_command_line_s_signals_wait_for_a_step_boundary(backend_name, inputs):
    backend = cpu_backend(backend_name)
    cfg = config(scales=Scales())
    full = transfer(backend, *inputs, cfg)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)  # Ray's, once it ran here
    for signum in (signal.SIGINT, signal.SIGTERM):
        with Stop() as stop:
            class Signalled(Recording):  # as the command line's run: a signal is a stop at the next boundary
                def on_step(self, record, picture):
                    stop.defer()
                    if record.step == 3:
                        os.kill(os.getpid(), signum)  # arrives during the step's bookkeeping, as a real Ctrl-C might

                def stop_reason(self):
                    return stop.requested

            stopped = transfer(backend, *inputs, cfg, Signalled())
        assert f"interrupted ({signal.Signals(signum).name}) after 3 of 7" in stopped.ending.message
        assert [(s.size_index, s.done) for s in stopped.checkpoints] == [(1, 3)]
        resumed = transfer(backend, *inputs, cfg, Run(stopped.checkpoints[0]))
        assert np.array_equal(resumed.picture, full.picture) and losses(resumed.records) == losses(full.records)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before  # given back


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
    position = Checkpoint(1, 1, np.zeros((1, 3, 40, 56), np.float32), None, [], 0.0)
    with pytest.raises(checkpoint.CheckpointError, match=rf"made with {named} = .*this run has"):
        checkpoint.check_same(_ident(), _ident(**changes), position, config(), "run.npz")
    checkpoint.check_same(_ident(), _ident(), position, config(), "run.npz")  # the same run passes


def test_a_finished_checkpoint_may_go_on_for_more_steps_never_fewer():
    short, long, fewer = config(), config(schedule=Schedule(11, 0.3, 3, 0.8)), config(schedule=Schedule(5, 0.3, 3, 0.8))
    finished = Checkpoint(2, 7, np.zeros((1, 3, 40, 56), np.float32), None, [], 0.0)
    checkpoint.check_same(_ident(config=short), _ident(config=long), finished, long, "run.npz")  # more: allowed
    with pytest.raises(checkpoint.CheckpointError, match="has run 7 steps at the final size, more than the 5"):
        checkpoint.check_same(_ident(config=short), _ident(config=fewer), finished, fewer, "run.npz")


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
                        (old, "format 0"), (pickled, "holds Python objects, which are never unpickled")]:
        with pytest.raises(UserError, match=words) as info:
            checkpoint.load(path)
        assert "\n" not in str(info.value)


def test_checkpoints_get_the_permissions_open_would_give(inputs, tmp_path):
    states = transfer(cpu_backend("torch"), *inputs, config(scales=Scales()), Recording()).checkpoints
    for mask in (0o022, 0o077):
        previous = os.umask(mask)
        try:
            path = checkpoint.save(tmp_path / f"run{mask}.npz", states[-1], {})
        finally:
            os.umask(previous)
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask


def _tampered(tmp_path, good, **changes):
    """``good`` (a checkpoint file) with its meta fields or arrays replaced."""
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    for key, value in changes.items():
        if key in meta:
            meta[key] = value
        elif key.startswith("record_"):
            meta["records"][0][key[len("record_"):]] = value
        else:
            arrays[key] = value
    arrays["meta"] = np.array(json.dumps(meta))
    path = tmp_path / "tampered.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("changes, words", [
    (dict(identity=[1, 2]), "format ?"),
    (dict(image=np.array("a string")), "image is <U8 (), not a float32"),
    (dict(image=np.zeros((1, 3, 39, 56), np.float32), adam_m=np.zeros((1, 3, 39, 56), np.float32),
          adam_v=np.zeros((1, 3, 39, 56), np.float32)), "its image is 39x56; size 2 of this run is 40x56"),
    (dict(image=np.zeros((1, 3, 4000, 5600), np.float32)), "at most 2240 pixels"),
    (dict(adam_m=np.zeros((1, 3, 8, 8), np.float32)), "Adam's moments are (1, 3, 8, 8)"),
    (dict(image=np.full((1, 3, 40, 56), np.nan, np.float32)), "non-finite"),
    (dict(done=-5), "-5 is not a whole number"),
    (dict(done=2.5), "2.5 is not a whole number"),
    (dict(size_index=9), "at size 9 of a run with 2"),
    (dict(done=3), "its 5 records do not match 3 steps done at size 2"),
    (dict(record_total="abc"), "'abc' is not a finite number"),
    (dict(record_step=7), "not steps 1, 2, 3"),
    (dict(records="many"), "records are not a list"),
])
def test_a_tampered_checkpoint_is_one_line_before_any_work(tmp_path, inputs, changes, words):
    cfg = config()
    full = transfer(cpu_backend("torch"), *inputs, cfg, Recording(checkpoint_every=5))
    good = checkpoint.save(tmp_path / "good.npz", full.checkpoints[0], checkpoint.identity(config=cfg))
    assert checkpoint.load(good, cfg)[0].done == 1  # the untampered file is read
    with pytest.raises(checkpoint.CheckpointError) as info:
        checkpoint.load(_tampered(tmp_path, good, **changes), cfg)
    assert words in str(info.value) and "\n" not in str(info.value)
