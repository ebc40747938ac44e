"""``.npz`` files read within bounds: every member's shape and dtype come from its ``.npy``
header before any array is read, only the members asked for are read, and a file that declares
more bytes than it may is refused in one line without allocating them (a 5 KB file can declare
gigabytes; ``np.load`` would allocate them all before anyone could look)."""
from __future__ import annotations

import math
import os
import zipfile
from typing import Callable, Mapping, Optional

import numpy as np

from common.errors import UserError

Header = tuple[tuple[int, ...], np.dtype]


def headers(path: str | os.PathLike[str]) -> dict[str, Header]:
    """Each member's (shape, dtype), from the first bytes of each ``.npy`` member."""
    out: dict[str, Header] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _fortran, dtype = read(member)
            out[info.filename[:-4]] = (tuple(int(n) for n in shape), np.dtype(dtype))
    return out


def nbytes(header: Header) -> int:
    shape, dtype = header
    return math.prod(shape) * dtype.itemsize


def read(path: str | os.PathLike[str], names: Mapping[str, Callable[[Header], Optional[str]]],
         what: str, limit: int) -> dict[str, np.ndarray]:
    """The members ``names`` (each with a check of its header: None when fine, else the
    problem), after every header is checked and the bytes they declare together are at most
    ``limit``; ``what`` names the file in messages. Members not named are never read."""
    found = headers(path)
    for name, check in names.items():
        if name not in found:
            continue
        if found[name][1].hasobject:  # reading it would unpickle: a file may come from anyone
            raise UserError(f"{what}: {name} holds Python objects, which are never unpickled")
        problem = check(found[name])
        if problem:
            raise UserError(f"{what}: {name} {problem}")
    total = sum(nbytes(found[name]) for name in names if name in found)
    if total > limit:
        raise UserError(f"{what} declares {total / 2**20:.0f} MiB of arrays, more than the {limit / 2**20:.0f} MiB "
                        f"it may hold: refused before reading it")
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in names if name in found}
