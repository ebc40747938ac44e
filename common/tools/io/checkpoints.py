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
import math
import os
import zipfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Mapping, Optional

import numpy as np

from common.config import TransferConfig
from common.errors import UserError, one_line
from common.records import Checkpoint, StepRecord
from common.terms import AdamMoments

from . import npz
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


def save(path: str | os.PathLike[str], checkpoint: Checkpoint, ident: Mapping[str, Any]) -> Path:
    meta = {"identity": dict(ident), "size_index": checkpoint.size_index, "done": checkpoint.done, "elapsed": checkpoint.elapsed,
            "adam_step": checkpoint.moments.step if checkpoint.moments else None,
            "records": [r.as_dict() for r in checkpoint.records]}
    arrays = {"image": np.asarray(checkpoint.image, np.float32), "meta": np.array(json.dumps(meta))}
    if checkpoint.moments is not None:
        arrays.update(adam_m=np.asarray(checkpoint.moments.m, np.float32), adam_v=np.asarray(checkpoint.moments.v, np.float32))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name without it
            np.savez(f, **arrays)
    return Path(path)


META_LIMIT = 64 * 2**20  # the JSON of a run's records: about 300 bytes a step
PIXEL_LIMIT = 2**26  # without the run's sizes to check against: far past any run that fits in memory


def load(path: str | os.PathLike[str], config: Optional[TransferConfig] = None) -> tuple[Checkpoint, dict[str, Any]]:
    """The state and identity a checkpoint holds, every field checked (against ``config``'s sizes
    and steps when given) before any work; anything else is one line. Array shapes are checked
    from the file's headers before an array is read."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    sizes = config.scales.sizes(config.size) if config is not None else None
    largest = sizes[-1][0] * sizes[-1][1] if sizes else PIXEL_LIMIT

    def image(header: npz.Header) -> Optional[str]:
        shape, dtype = header
        if dtype != np.float32 or len(shape) != 4 or shape[:2] != (1, 3) or shape[2] * shape[3] > largest:
            return f"is {dtype} {shape}, not a float32 (1, 3, H, W) image of at most {largest} pixels"
        return None

    try:
        arrays = npz.read(path, {"meta": lambda h: None if h[1].kind == "U" and h[0] == () else "is not text",
                                 "image": image, "adam_m": image, "adam_v": image},
                          f"checkpoint {path}", META_LIMIT + 3 * 4 * 3 * largest)
        meta = json.loads(str(arrays["meta"]))
        ident = meta["identity"]
        if not isinstance(ident, dict) or ident.get("format") != FORMAT:  # an older layout: refused by name
            raise CheckpointError(f"{path} has checkpoint format {ident.get('format') if isinstance(ident, dict) else '?'}"
                                  f"; this version reads format {FORMAT}")
        checkpoint = _checkpoint(meta, arrays)
    except CheckpointError:
        raise
    except UserError as exc:  # a header refused: the message names the file already
        raise CheckpointError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(exc).__name__}: "
                              f"{one_line(exc)})") from None
    problem = _problem(checkpoint, sizes, config)
    if problem:
        raise CheckpointError(f"checkpoint {path}: {problem}")
    return checkpoint, ident


def _whole(value: Any, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{value!r} is not a whole number of at least {low}")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return float(value)


def _record(r: Any) -> StepRecord:
    if not isinstance(r, dict):
        raise ValueError("a record is not an object")
    whole = {"step": 1, "size_index": 1, "height": 0, "width": 0}
    values = {f.name: (_whole(r[f.name], whole[f.name]) if f.name in whole else
                       None if f.name == "lr" and r[f.name] is None else _number(r[f.name])) for f in fields(StepRecord)}
    return StepRecord(**values)


def _checkpoint(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> Checkpoint:
    moments = None
    if meta["adam_step"] is not None:
        moments = AdamMoments(_whole(meta["adam_step"]), arrays["adam_m"], arrays["adam_v"])
    if not isinstance(meta["records"], list):
        raise ValueError("its records are not a list")
    return Checkpoint(_whole(meta["size_index"], 1), _whole(meta["done"]), arrays["image"], moments,
                      [_record(r) for r in meta["records"]], _number(meta["elapsed"]))


def _problem(checkpoint: Checkpoint, sizes: Optional[list[tuple[int, int]]], config: Optional[TransferConfig]) -> Optional[str]:
    """What is wrong with a checkpoint's contents, for this run's sizes and steps when known."""
    if not np.all(np.isfinite(checkpoint.image)):
        return "its image holds non-finite values"
    if checkpoint.moments is not None:
        if checkpoint.moments.m.shape != checkpoint.image.shape or checkpoint.moments.v.shape != checkpoint.image.shape:
            return f"Adam's moments are {checkpoint.moments.m.shape} and {checkpoint.moments.v.shape}, its image {checkpoint.image.shape}"
        if not (np.all(np.isfinite(checkpoint.moments.m)) and np.all(np.isfinite(checkpoint.moments.v))):
            return "Adam's moments hold non-finite values"
    if [r.step for r in checkpoint.records] != list(range(1, len(checkpoint.records) + 1)):
        return "its records are not steps 1, 2, 3, ... in order"
    if sizes is None or config is None:
        return None
    if checkpoint.size_index > len(sizes):
        return f"it is at size {checkpoint.size_index} of a run with {len(sizes)}"
    if tuple(checkpoint.image.shape[2:]) != sizes[checkpoint.size_index - 1]:
        return (f"its image is {checkpoint.image.shape[2]}x{checkpoint.image.shape[3]}; size {checkpoint.size_index} of this run "
                f"is {sizes[checkpoint.size_index - 1][0]}x{sizes[checkpoint.size_index - 1][1]}")
    if checkpoint.size_index < len(sizes) and checkpoint.done > config.steps_at(checkpoint.size_index):
        return f"it has done {checkpoint.done} steps at size {checkpoint.size_index}, which has {config.steps_at(checkpoint.size_index)}"
    before = sum(config.steps_at(i) for i in range(1, checkpoint.size_index))
    # SciPy may end a size early, and so may the plateau rule: then fewer records, never more
    early = (config.optimizer == "lbfgs" or config.plateau.window) and len(checkpoint.records) < before + checkpoint.done
    if len(checkpoint.records) != before + checkpoint.done and not early:
        return f"its {len(checkpoint.records)} records do not match {checkpoint.done} steps done at size {checkpoint.size_index}"
    return None


GROWS = "config.schedule.steps"  # the one part of a run's identity that may grow on resume


def check_same(saved: Mapping[str, Any], current: Mapping[str, Any], checkpoint: Checkpoint, config: TransferConfig,
               path: str | os.PathLike[str]) -> None:
    """Refuse, naming the first difference, a checkpoint made by another run; or one that has run
    more steps at the final size than this run asks for (more are allowed: the steps before them
    are the same whatever follows)."""
    for key, was, now in _differences(saved, current):
        if key != GROWS:
            raise CheckpointError(f"{path} was made with {key} = {_show(was)}; this run has {_show(now)}: "
                                  f"resume with the options it was made with")
    if checkpoint.size_index == config.scales.count and checkpoint.done > config.schedule.steps:
        raise CheckpointError(f"{path} has run {checkpoint.done} steps at the final size, more than the "
                              f"{config.schedule.steps} this run asks for: ask for at least {checkpoint.done}")


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
