"""What a torchvision ``.pth``/``.pt`` file declares — each tensor's shape and dtype, and the
bytes ``torch.load`` would allocate for its storages — read in pure Python, before torch is
imported and before any storage is read: a file of a few hundred bytes can declare gigabytes,
and torch allocates what a file declares before it finds the bytes are not there. (Gluon's
``.params``: ``params_headers.py``.)

``torch.save`` files are a zip (``<name>/data.pkl``, the storages as ``<name>/data/<key>``) or
the legacy stream (five pickles, then each storage as an 8-byte element count and its bytes).
The pickle is walked by Python's pure-Python unpickler (whose memo is a dict: the C unpickler
sizes its memo by the largest index a pickle names) with every global replaced by a stand-in
that only records: the tensor rebuilders record (shape, dtype) and check the view fits its
storage, ``persistent_load`` records each storage's key, dtype and size. Any other global is a
Python object beyond tensors, and the file is refused, never executed. Each storage's declared
size must be what the file holds for it. Torch's old tar format is refused.
"""
from __future__ import annotations

import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from common.errors import WeightsError, one_line, shown
from common.weights import Header, features_key, state_dict_of

# A VGG's data.pkl is 5 KB; this holds the records of a hundred thousand tensors, and bounds
# what walking a hostile pickle can build in memory to a small multiple of it.
PICKLE_LIMIT = 8 * 2**20
# numpy has no bfloat16: for these checks (size, real numbers) it is a 2-byte float.
_BFLOAT16 = np.dtype(np.float16)
_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
             "BFloat16Storage": _BFLOAT16, "LongStorage": np.int64, "IntStorage": np.int32,
             "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
             "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
             "UntypedStorage": np.uint8}
_TORCH_MAGIC, _TORCH_PROTOCOL = 0x1950A86A20F9469CFC6C, 1001


class _Objects(Exception):
    """The pickle names something beyond tensors and plain containers."""


class _Storage:
    def __init__(self, key: str, dtype: np.dtype, numel: int) -> None:
        self.key, self.dtype, self.numel = key, dtype, numel


class _Tensor:
    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype = shape, dtype


class _StorageType:
    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)


class _Dict(dict):
    """Stands for OrderedDict (a state_dict's ``_metadata`` is set on it by BUILD)."""


def _whole(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"{what} is {value!r}, not a whole number")
    return value


def _tensor(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> _Tensor:
    """Stands for torch's ``_rebuild_tensor(_v2)``: the view's shape, checked to fit its storage."""
    if not isinstance(storage, _Storage) or not isinstance(size, tuple) or not isinstance(stride, tuple) \
            or len(size) != len(stride) or len(rest) > 3:
        raise ValueError("a tensor record that is not torch's")
    shape = tuple(_whole(n, "a dimension") for n in size)
    steps = [_whole(s, "a stride") for s in stride]
    start = _whole(offset, "a storage offset")
    if all(shape) and start + sum((n - 1) * s for n, s in zip(shape, steps)) >= storage.numel:
        raise ValueError(f"a {shape} tensor reaches beyond its storage of {storage.numel} elements")
    return _Tensor(shape, storage.dtype)


def _parameter(data: Any, *rest: Any) -> _Tensor:
    if not isinstance(data, _Tensor):
        raise ValueError("a parameter record without a tensor")
    return data


class _TensorType:
    """Stands for ``torch.Tensor`` and ``torch.nn.Parameter`` as the type a tensor is rebuilt as."""


def _of_type(rebuild: Any, kind: Any, args: Any, state: Any) -> _Tensor:
    """Stands for ``torch._tensor._rebuild_from_type_v2`` (a tensor saved with attributes): the
    tensor its own rebuilder makes; the attributes are not kept."""
    if not isinstance(kind, _TensorType) or not isinstance(args, tuple) or rebuild not in (_tensor, _parameter):
        raise ValueError("a tensor of a type that is not torch's")
    return rebuild(*args)


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    """Stands for ``_codecs.encode``, which protocol-2 pickles use for bytes: text codecs only."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        raise ValueError("an encoded value that is not text")
    return text.encode(encoding)


_GLOBALS = {"collections.OrderedDict": _Dict, "torch._utils._rebuild_tensor": _tensor,
            "torch._utils._rebuild_tensor_v2": _tensor, "torch._utils._rebuild_parameter": _parameter,
            "torch._utils._rebuild_parameter_with_state": _parameter, "torch.Size": tuple,
            "torch.device": str, "_codecs.encode": _encode, "builtins.set": set, "__builtin__.set": set,
            "torch._tensor._rebuild_from_type_v2": _of_type, "torch.Tensor": _TensorType(),
            "torch._tensor.Tensor": _TensorType(), "torch.nn.parameter.Parameter": _TensorType()}


class _Walker(pickle._Unpickler):  # the pure-Python unpickler: see the module's docstring
    def __init__(self, file: Any, storages: dict[str, _Storage]) -> None:
        super().__init__(file, encoding="utf-8")
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name in _STORAGES:
            return _StorageType(_STORAGES[name])
        if f"{module}.{name}" not in _GLOBALS:
            raise _Objects(f"{module}.{name}")
        return _GLOBALS[f"{module}.{name}"]

    def persistent_load(self, pid: Any) -> _Storage:
        if not isinstance(pid, tuple) or len(pid) not in (5, 6):
            raise ValueError("a persistent record that is not a storage")
        typename = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if typename != "storage":
            raise _Objects(f"a pickled {typename}")
        kind, key, numel = pid[1], str(pid[2]), _whole(pid[4], "a storage size")
        if not isinstance(kind, _StorageType):
            raise ValueError("a storage of no known type")
        storage = self.storages.setdefault(key, _Storage(key, kind.dtype, numel))
        view = pid[5] if len(pid) == 6 else None
        if view is None:
            return storage
        offset, size = _whole(view[1], "a view offset"), _whole(view[2], "a view size")
        if offset + size > storage.numel:
            raise ValueError("a storage view beyond its storage")
        return _Storage(str(view[0]), storage.dtype, size)


class _Capped:
    """A file whose reads stop at ``left`` bytes: the legacy format's pickles come before the
    storages, and a pickle may declare a string of any length."""

    def __init__(self, file: BinaryIO, left: int) -> None:
        self.file, self.left = file, left

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            raise ValueError(f"its pickles are longer than {PICKLE_LIMIT // 2**20} MiB")
        data = self.file.read(n)
        self.left -= len(data)
        return data

    def readline(self) -> bytes:
        line = self.file.readline(self.left + 1)
        if len(line) > self.left:
            raise ValueError(f"its pickles are longer than {PICKLE_LIMIT // 2**20} MiB")
        self.left -= len(line)
        return line


def _walk(file: Any, storages: dict[str, _Storage]) -> Any:
    return _Walker(file, storages).load()


def torch_headers(path: Path, what: str) -> tuple[dict[str, Header], int]:
    """The ``features`` tensors a ``torch.save`` file declares (neutral names: shape, dtype), and
    the bytes ``torch.load`` would allocate for all its storages; ``what`` begins each refusal."""
    storages: dict[str, _Storage] = {}
    try:
        with open(path, "rb") as file:
            start = file.read(4)
        if start == b"PK\x03\x04":  # torch.load's own test: a zip from its first bytes
            saved = _zip_pickle(path, storages, what)
        elif tarfile.is_tarfile(path):
            raise WeightsError(f"{what}: it is in torch's old tar format, which is not read; save it again with "
                               f"torch.save")
        else:
            saved = _legacy_pickle(path, storages, what)
    except _Objects as exc:
        named = shown(str(exc))
        if named.startswith("torch."):  # torch's own, for tensors these checks cannot size (float8, sparse)
            raise WeightsError(f"{what}: it holds a kind of tensor that is not read ({named}); save the weights "
                               f"as float32 tensors") from None
        raise WeightsError(f"{what}: it holds Python objects beyond tensors ({named}), and such a file is not "
                           f"loaded: save only the state_dict of tensors") from None
    except (WeightsError, MemoryError):
        raise
    except Exception as exc:  # a damaged pickle raises whatever its opcodes make of it
        raise WeightsError(f"{what}: it is not a readable torch.save file ({shown(one_line(exc))})") from None
    if not isinstance(saved, dict):
        kind = "tensor" if isinstance(saved, _Tensor) else type(saved).__name__
        raise WeightsError(f"{what}: it holds a {kind}, not a state_dict")
    declared = {}
    for key, value in state_dict_of(saved).items():
        neutral = features_key(key) if isinstance(key, str) else None
        if neutral is not None and isinstance(value, _Tensor):
            declared[neutral] = (value.shape, value.dtype)
    return declared, sum(s.numel * s.dtype.itemsize for s in storages.values())


def _zip_pickle(path: Path, storages: dict[str, _Storage], what: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        pickles = [info for info in archive.infolist() if info.filename.endswith("/data.pkl")
                   and info.filename.count("/") == 1]
        if len(pickles) != 1:
            raise WeightsError(f"{what}: it is a zip archive but not a torch.save file (no single data.pkl)")
        if pickles[0].file_size > PICKLE_LIMIT:
            raise WeightsError(f"{what}: its data.pkl is {pickles[0].file_size / 2**20:.0f} MiB, more than the "
                               f"{PICKLE_LIMIT // 2**20} MiB a state_dict's needs")
        saved = _walk(io.BytesIO(archive.read(pickles[0])), storages)
        prefix = pickles[0].filename[: -len("data.pkl")]
        members = {info.filename: info.file_size for info in archive.infolist()}
    for storage in storages.values():
        declared = storage.numel * storage.dtype.itemsize
        held = members.get(f"{prefix}data/{storage.key}")
        if held != declared:
            raise WeightsError(f"{what}: storage {storage.key} declares {declared:,} bytes, the file holds "
                               f"{'none' if held is None else f'{held:,}'} for it")
    return saved


def _legacy_pickle(path: Path, storages: dict[str, _Storage], what: str) -> Any:
    size = path.stat().st_size
    with open(path, "rb") as raw:
        capped = _Capped(raw, PICKLE_LIMIT)
        if _walk(capped, {}) != _TORCH_MAGIC:
            raise WeightsError(f"{what}: it is not a torch.save file (no torch magic number)")
        if _walk(capped, {}) != _TORCH_PROTOCOL:
            raise WeightsError(f"{what}: it is a torch.save file of a protocol other than {_TORCH_PROTOCOL}")
        info = _walk(capped, {})
        if not isinstance(info, dict) or info.get("little_endian") is not True:
            raise WeightsError(f"{what}: it was saved on a big-endian machine, which is not read")
        saved = _walk(capped, storages)
        keys = _walk(capped, {})
        if not isinstance(keys, list) or sorted(map(str, keys)) != sorted(storages):
            raise ValueError("its list of storages is not the storages its tensors use")
        position = raw.tell()
        for key in map(str, keys):  # each storage: its element count, then its bytes
            raw.seek(position)
            count = raw.read(8)
            storage = storages[key]
            position += 8 + storage.numel * storage.dtype.itemsize
            if len(count) != 8 or struct.unpack("<q", count)[0] != storage.numel or position > size:
                raise WeightsError(f"{what}: storage {key} declares {storage.numel * storage.dtype.itemsize:,} "
                                   f"bytes that the file does not hold")
    return saved
