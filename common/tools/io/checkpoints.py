"""Checkpoints on disk: a run's whole state in one ``.npz`` (arrays, and the rest as JSON in ``meta``),
written atomically, read back without unpickling anything, and refused in one line when it
belongs to another run.

What makes a run "the same" is its identity: the checkpoint format, the backend and its
framework's version, the configuration, the precision, the weights and the SHA-256 of every
input image. A resumed Adam run gives bit-identical images and losses; SciPy's L-BFGS-B keeps
its curvature pairs inside its Fortran code, so a resumed L-BFGS run restarts from the saved image.
"""
from __future__ import annotations

import json
import os
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from common.config import TransferConfig
from common.errors import UserError
from common.records import Checkpoint, StepRecord
from common.terms import AdamState

from .files import atomic_path

FORMAT = 2  # bump when the layout below changes: older checkpoints are then refused by name


class CheckpointError(UserError):
    """A checkpoint that cannot be read, or that belongs to another run."""


def identity(**parts: Any) -> dict[str, Any]:
    """What a checkpoint must share with the run that resumes it, as plain JSON values."""
    return json.loads(json.dumps({"format": FORMAT, **parts}, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"cannot keep {type(value).__name__} in a checkpoint")


def save(path: str | os.PathLike[str], state: Checkpoint, ident: Mapping[str, Any]) -> Path:
    meta = {"identity": dict(ident), "size_index": state.size_index, "done": state.done, "elapsed": state.elapsed,
            "adam_step": state.adam.step if state.adam else None,
            "records": [r.as_dict() for r in state.records]}
    arrays = {"image": np.asarray(state.image, np.float32), "meta": np.array(json.dumps(meta))}
    if state.adam is not None:
        arrays.update(adam_m=np.asarray(state.adam.m, np.float32), adam_v=np.asarray(state.adam.v, np.float32))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name without it
            np.savez(f, **arrays)
    return Path(path)


def load(path: str | os.PathLike[str]) -> tuple[Checkpoint, dict[str, Any]]:
    """The state and identity a checkpoint holds; anything unreadable is one line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:  # never unpickle: a checkpoint may come from anyone
            arrays = {key: data[key] for key in data.files}
        meta = json.loads(str(arrays["meta"]))
        ident = meta["identity"]
        if not isinstance(ident, dict) or ident.get("format") != FORMAT:  # an older layout: refused by name
            raise CheckpointError(f"{path} has checkpoint format {ident.get('format') if isinstance(ident, dict) else '?'}"
                                  f"; this version reads format {FORMAT}")
        adam = None
        if meta["adam_step"] is not None:
            adam = AdamState(int(meta["adam_step"]), arrays["adam_m"], arrays["adam_v"])
        records = [StepRecord(**{f.name: r[f.name] for f in fields(StepRecord)}) for r in meta["records"]]
        state = Checkpoint(int(meta["size_index"]), int(meta["done"]), arrays["image"], adam, records, float(meta["elapsed"]))
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0] if str(exc) else 'damaged'})") from None
    if state.image.ndim != 4 or not np.all(np.isfinite(state.image)):
        raise CheckpointError(f"checkpoint {path}: its image is damaged (shape {state.image.shape} or non-finite values)")
    return state, ident


GROWS = "config.schedule.steps"  # the one part of a run's identity that may grow on resume


def check_same(saved: Mapping[str, Any], current: Mapping[str, Any], state: Checkpoint, config: TransferConfig,
               path: str | os.PathLike[str]) -> None:
    """Refuse, naming the first difference, a checkpoint made by another run; or one that has run
    more steps at the final size than this run asks for (more are allowed: the steps before them
    are the same whatever follows)."""
    for key, was, now in _differences(saved, current):
        if key != GROWS:
            raise CheckpointError(f"{path} was made with {key} = {_show(was)}; this run has {_show(now)}: "
                                  f"resume with the options it was made with")
    if state.size_index == config.scales.count and state.done > config.schedule.steps:
        raise CheckpointError(f"{path} has run {state.done} steps at the final size, more than the "
                              f"{config.schedule.steps} this run asks for: ask for at least {state.done}")


def _differences(a: Any, b: Any, key: str = "") -> list[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += _differences(a.get(k), b.get(k), f"{key}.{k}" if key else k)
        return out
    return [] if a == b else [(key, a, b)]


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
