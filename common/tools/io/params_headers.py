"""What a Gluon ``.params`` file declares — each named array's shape and dtype, and the bytes
MXNet would allocate to load them all — read in pure Python, before MXNet is imported and before
any array is read: MXNet allocates each array as its header declares before it reads the data.

The format is MXNet's ``NDArray::Save`` list (``src/ndarray/ndarray.cc``), little-endian: magic
0x112, a reserved word, the array count, each array (magic V2 0xF993FAC9 or V3 0xF993FACA:
storage type, int32 ndim, int64 dims; V1 0xF993FAC8: no storage type; before V1 the first word
is ndim and the dims are uint32; then the device (two int32), the dtype flag and the raw data,
skipped here), then the names (a count, and each a length and its bytes). Every array's data
must lie inside the file, so a file cannot declare more than it holds.
"""
from __future__ import annotations

import io
import math
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np

from common.errors import WeightsError, one_line, shown
from common.weights import Header

_LIST_MAGIC, _V1, _V2, _V3 = 0x112, 0xF993FAC8, 0xF993FAC9, 0xF993FACA
# MXNet's dtype flags (mshadow's). 12 is bfloat16, which numpy has not: for these checks (size,
# real numbers) a 2-byte float.
_MX_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64,
              7: np.bool_, 8: np.int16, 9: np.uint16, 10: np.uint32, 11: np.uint64, 12: np.float16}
_MAX_DIMS, _MAX_NAME = 32, 2**16


class _Reader:
    """Little-endian fields from a file, each read refused past its end."""

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file, self.size = file, size

    def fields(self, form: str) -> tuple[int, ...]:
        data = self.file.read(struct.calcsize(form))
        if len(data) != struct.calcsize(form):
            raise ValueError("it ends in the middle of a header")
        return struct.unpack("<" + form, data)

    def skip(self, nbytes: int, what: str) -> None:
        if self.file.tell() + nbytes > self.size:
            raise ValueError(f"{what} declares {nbytes:,} bytes, more than the file holds after it")
        self.file.seek(nbytes, io.SEEK_CUR)


def _gluon_array(reader: _Reader, index: int) -> Header:
    (magic,) = reader.fields("I")
    if magic in (_V2, _V3):
        stype, ndim = reader.fields("ii")
        if stype != 0:
            raise ValueError(f"array {index} is sparse (storage type {stype}), which no VGG's parameters are")
    else:
        ndim = reader.fields("i")[0] if magic == _V1 else magic  # before V1 the first word is ndim
    if not 0 <= ndim <= _MAX_DIMS:
        raise ValueError(f"array {index} declares {ndim} dimensions")
    shape = reader.fields(("q" if magic in (_V1, _V2, _V3) else "I") * ndim)
    if any(n < 0 for n in shape) or (ndim == 0 and magic != _V3):  # -1: unknown, ndim 0 before V3: none
        raise ValueError(f"array {index} has no known shape (a parameter never initialised)")
    reader.fields("ii")  # the device it was saved from
    (flag,) = reader.fields("i")
    if flag not in _MX_DTYPES:
        raise ValueError(f"array {index} has dtype flag {flag}, which MXNet does not define")
    header = (tuple(shape), np.dtype(_MX_DTYPES[flag]))
    reader.skip(math.prod(shape) * header[1].itemsize, f"array {index}")
    return header


def gluon_headers(path: Path, what: str) -> tuple[dict[str, Header], int]:
    """Each named array of a Gluon ``.params`` file (shape, dtype), and the bytes MXNet would
    allocate to load them all; ``what`` begins each refusal."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as file:
            reader = _Reader(file, size)
            magic, _reserved, count = reader.fields("QQQ")
            if magic != _LIST_MAGIC:
                raise WeightsError(f"{what}: it is not an MXNet parameters file (it does not begin with 0x112)")
            if count > size // 24:  # an array's smallest record: magic, storage type, ndim, device, dtype
                raise ValueError(f"it declares {count:,} arrays")
            headers = [_gluon_array(reader, index) for index in range(count)]
            (named,) = reader.fields("Q")
            if named == 0:
                raise WeightsError(f"{what}: it holds a list of arrays without names, not a Gluon model's "
                                   f"parameters")
            if named != count:
                raise ValueError(f"it names {named:,} arrays and holds {count:,}")
            names = []
            for _ in range(count):
                (length,) = reader.fields("Q")
                if length > _MAX_NAME or file.tell() + length > size:
                    raise ValueError(f"a name declares {length:,} bytes")
                names.append(file.read(length).decode("utf-8", errors="replace"))
    except WeightsError:
        raise
    except (ValueError, struct.error) as exc:
        raise WeightsError(f"{what}: it is not a readable MXNet parameters file ({shown(one_line(exc))})") from None
    return dict(zip(names, headers)), sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers)
