"""Weight files in the layouts people have, written from neutral weights for the tests: Keras 2
(``keras.applications``' ``*_tf_kernels[_notop].h5``, as Keras' own ``legacy_h5_format`` writer
lays them out: root attribute ``layer_names``, a group per layer with attribute ``weight_names``
whose names are dataset paths; a whole model under ``model_weights``), Keras 3 ``.weights.h5``
(``layers/<name>/vars/0`` and ``vars/1``), torchvision ``state_dict`` files and Gluon ``.params``;
and, written by hand without a framework, files of each format whose headers declare far more
than they hold."""
from __future__ import annotations

import contextlib
import io
import math
import pickle
import struct
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np

from common.weights import Weights


def keras_layer_names(weights: Weights) -> list[str]:
    """keras.applications' names of the network's layers, in order: block1_conv1, ..., block1_pool, ..."""
    names, block, conv = [], 1, 1
    for item in weights.network.config:
        if item == "M":
            names.append(f"block{block}_pool")
            block, conv = block + 1, 1
        else:
            names.append(f"block{block}_conv{conv}")
            conv += 1
    return names


def keras_convs(weights: Weights) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, HWIO kernel, bias) per convolution, in network order."""
    names = [n for n in keras_layer_names(weights) if "_conv" in n]
    return [(name, weights[f"features.{i}.weight"].transpose(2, 3, 1, 0), weights[f"features.{i}.bias"])
            for name, i in zip(names, weights.network.convs) if f"features.{i}.weight" in weights]


def write_keras2(weights: Weights, path: Path, whole_model: bool = False, old_names: bool = False) -> Path:
    """Keras 2's layout. ``old_names``: the weight names of the original keras.applications files
    (``block1_conv1_W_1:0``), else ``block1_conv1/kernel:0`` as tf.keras writes them."""
    convs = keras_convs(weights)
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if whole_model else f
        if whole_model:
            f.attrs["model_config"] = b'{"class_name": "Functional"}'
        layers = ["input_1", *keras_layer_names(weights)]
        if whole_model:
            layers += ["flatten", "fc1", "fc2", "predictions"]
        root.attrs["layer_names"] = [n.encode() for n in layers]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        arrays = {name: (kernel, bias) for name, kernel, bias in convs}
        rng = np.random.default_rng(0)
        if whole_model:
            arrays.update({"fc1": (rng.standard_normal((8, 4)).astype(np.float32), np.zeros(4, np.float32)),
                           "fc2": (rng.standard_normal((4, 4)).astype(np.float32), np.zeros(4, np.float32)),
                           "predictions": (rng.standard_normal((4, 3)).astype(np.float32), np.zeros(3, np.float32))})
        for layer in sorted(layers):  # Keras writes the groups in name order
            group = root.create_group(layer)
            if layer not in arrays:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            names = ([f"{layer}_W_1:0", f"{layer}_b_1:0"] if old_names else [f"{layer}/kernel:0", f"{layer}/bias:0"])
            group.attrs["weight_names"] = [n.encode() for n in names]
            for name, value in zip(names, arrays[layer]):
                group.create_dataset(name, data=value)
    return path


def write_keras3(weights: Weights, path: Path, with_classifier: bool = True) -> Path:
    """Keras 3's ``.weights.h5``: one group per layer path, ``vars/0`` the kernel, ``vars/1`` the bias;
    an optimizer's state beside them."""
    with h5py.File(path, "w") as f:
        for name, kernel, bias in keras_convs(weights):
            f.create_dataset(f"layers/{name}/vars/0", data=kernel)
            f.create_dataset(f"layers/{name}/vars/1", data=bias)
        if with_classifier:
            f.create_dataset("layers/fc1/vars/0", data=np.zeros((8, 4), np.float32))
            f.create_dataset("layers/fc1/vars/1", data=np.zeros(4, np.float32))
            f.create_dataset("optimizer/vars/0", data=np.zeros((3, 3, 3, 64), np.float32))  # a momentum
            f.create_dataset("optimizer/vars/1", data=np.zeros((64,), np.float32))
    return path


def write_torch(weights: Weights, path: Path) -> Path:
    """A torchvision ``state_dict`` of the whole model (features and classifier)."""
    import torch

    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    state["classifier.0.weight"] = torch.zeros(4, 8)
    torch.save(state, path)
    return path


@contextlib.contextmanager
def numpy_semantics_in_this_thread(on: bool):
    """MXNet's NumPy semantics on or off for this thread within the block (shape semantics go on
    before array semantics and off after them: MXNet refuses the other order)."""
    import mxnet as mx

    outer, inner = (mx.util.np_shape(on), mx.util.np_array(on)) if on else (mx.util.np_array(on), mx.util.np_shape(on))
    with outer, inner:
        yield


def write_gluon(weights: Weights, path: Path, numpy_semantics: bool = True) -> Path:
    """A Gluon model zoo VGG's ``save_parameters`` file, from the model zoo's own architecture,
    saved under the chapter's NumPy semantics or in legacy mode (the file records which)."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    # Said explicitly: the semantics are per thread, and earlier tests may have switched them on.
    on = numpy_semantics
    array = mx.np if on else mx.nd
    with numpy_semantics_in_this_thread(on):
        net = {"vgg16": vision.vgg16, "vgg19": vision.vgg19}[weights.network.name](pretrained=False)
        net.initialize()
        net(array.zeros((1, 3, 32, 32)))  # deferred shapes: one forward pass sets them
        for index, layer in enumerate(net.features):
            if isinstance(layer, mx.gluon.nn.Conv2D):
                layer.weight.set_data(array.array(weights[f"features.{index}.weight"]))
                layer.bias.set_data(array.array(weights[f"features.{index}.bias"]))
        net.save_parameters(str(path))
    return path


# -- files that declare more than they hold: headers written by hand, a few KB each ------------------
HUGE_KERNEL = (3, 3, 64, 650000)  # HWIO: 1.4 GiB of float32 declared
HUGE = (650000, 64, 3, 3)  # the same kernel as a neutral (out, in, kh, kw) array


def npy_bytes(shape: tuple[int, ...], dtype=np.float32, data: bytes = b"") -> bytes:
    """A ``.npy`` member: its header as numpy writes it, then ``data`` (none: it declares, holds nothing)."""
    out = io.BytesIO()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + data


def write_npz_declaring(path: Path, real: dict[str, np.ndarray], declared: dict[str, tuple[int, ...]]) -> Path:
    """An ``.npz`` of the ``real`` arrays and members that only declare a float32 ``shape`` (deflated)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in real.items():
            archive.writestr(f"{name}.npy", npy_bytes(array.shape, array.dtype, np.ascontiguousarray(array).tobytes()))
        for name, shape in declared.items():
            archive.writestr(f"{name}.npy", npy_bytes(shape))
    return path


def write_keras_declaring(path: Path, kernel: tuple[int, ...] = HUGE_KERNEL) -> Path:
    """A Keras 3 file of one convolution whose chunked, compressed datasets were never written:
    kilobytes on disk, the whole declared kernel once read."""
    with h5py.File(path, "w") as f:
        f.create_dataset("layers/block1_conv1/vars/0", shape=kernel, dtype="float32",
                         chunks=kernel[:3] + (min(kernel[3], 1024),), compression="gzip")
        f.create_dataset("layers/block1_conv1/vars/1", shape=kernel[3:], dtype="float32",
                         chunks=(min(kernel[3], 1024),), compression="gzip")
    return path


def _text(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data  # BINUNICODE


def _whole(n: int) -> bytes:
    return pickle.dumps(n, protocol=2)[2:-1]  # the opcode pickle itself uses for n


def _tuple(items: list[bytes]) -> bytes:
    return b"(" + b"".join(items) + b"t"


def state_pickle(tensors: dict[str, tuple[str, int, tuple[int, ...]]], legacy: bool = False,
                 extra: bytes = b"") -> bytes:
    """A ``state_dict`` pickle as torch.save writes it, without torch: for each key, a tensor of
    ``shape`` over a storage (``FloatStorage``, ...) named by its key and element count; ``extra``
    is pickled opcodes for one more value (key ``extra``)."""
    body = b"\x80\x02}"  # PROTO 2, EMPTY_DICT
    for index, (key, (kind, numel, shape)) in enumerate(tensors.items()):
        strides = [1] * len(shape)
        for i in range(len(shape) - 2, -1, -1):
            strides[i] = strides[i + 1] * shape[i + 1]
        pid = [_text("storage"), b"ctorch\n" + kind.encode() + b"\n", _text(str(index)), _text("cpu"), _whole(numel)]
        if legacy:
            pid.append(b"N")  # no view
        body += (_text(key) + b"ctorch._utils\n_rebuild_tensor_v2\n"
                 + _tuple([_tuple(pid) + b"Q", _whole(0), _tuple([_whole(n) for n in shape]),
                           _tuple([_whole(s) for s in strides]), b"\x89", b"}"]) + b"Rs")
    if extra:
        body += _text("extra") + extra + b"s"
    return body + b"."


def write_torch_declaring(path: Path, tensors: dict[str, tuple[str, int, tuple[int, ...]]],
                          data: dict[str, bytes] | None = None, legacy: bool = False, extra: bytes = b"") -> Path:
    """A ``torch.save`` file, zip or legacy, written by hand: its pickle declares ``tensors``; the
    storages hold ``data`` (by storage key "0", "1", ...: nothing when not given)."""
    data = data or {}
    if not legacy:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", state_pickle(tensors, extra=extra))
            archive.writestr("archive/byteorder", "little")
            for key, stored in data.items():
                archive.writestr(f"archive/data/{key}", stored)
            archive.writestr("archive/version", "3\n")
        return path
    info = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}
    head = b"".join(pickle.dumps(value, protocol=2) for value in (0x1950A86A20F9469CFC6C, 1001, info))
    keys = [str(i) for i in range(len(tensors))]
    storages = b"".join(struct.pack("<q", tensors[name][1]) + data.get(key, b"")
                        for key, name in zip(keys, tensors) if key in data)
    path.write_bytes(head + state_pickle(tensors, legacy=True, extra=extra) + pickle.dumps(keys, protocol=2)
                     + storages)
    return path


def write_gluon_declaring(path: Path, arrays: dict[str, tuple[tuple[int, ...], bytes]]) -> Path:
    """A Gluon ``.params`` file (MXNet's NDArray list, V2 records) written by hand: float32
    arrays of the shapes given, each followed by its ``bytes`` (none: it declares, holds nothing)."""
    out = struct.pack("<QQQ", 0x112, 0, len(arrays))
    for shape, data in arrays.values():
        out += struct.pack("<Iii", 0xF993FAC9, 0, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
        out += struct.pack("<iii", 1, 0, 0) + data  # cpu(0), float32
    out += struct.pack("<Q", len(arrays))
    for name in arrays:
        out += struct.pack("<Q", len(name.encode())) + name.encode()
    path.write_bytes(out)
    return path


def _zip_by_hand(path: Path, members: list[tuple[str, int, bytes, int, int]]) -> Path:
    """A zip of (name, method, stored bytes, CRC-32, size once read) members, written field by field."""
    body, directory = b"", b""
    for name, method, stored, crc, size in members:
        fields = struct.pack("<HHHHHLLLHH", 20, 0, method, 0, 0x21, crc, len(stored), size, len(name), 0)
        directory += b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHLL", 0, 0, 0, 0, len(body))
        directory += name.encode()
        body += b"PK\x03\x04" + fields + name.encode() + stored
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


def write_npz_with_zeros(path: Path, real: dict[str, np.ndarray], zeros: dict[str, tuple[int, ...]]) -> Path:
    """An ``.npz`` of the ``real`` arrays and float32 ``zeros`` arrays that are whole and valid
    (CRC and all) but deflated: a 1.4 GiB member takes 1.4 MB. Its deflate stream is one block
    of zeros, compressed once after a full flush (which resets the compressor, so the block is
    the same wherever it falls), repeated."""
    members = []
    for name, array in real.items():
        data = npy_bytes(array.shape, array.dtype, np.ascontiguousarray(array).tobytes())
        members.append((f"{name}.npy", 0, data, zlib.crc32(data), len(data)))
    block = bytes(2400000)  # 1,497,600,000 = 624 blocks: HUGE's bytes
    for name, shape in zeros.items():
        header = npy_bytes(shape)
        nbytes = math.prod(shape) * 4
        assert nbytes % len(block) == 0, "a zeros member is a whole number of blocks"
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        start = packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)
        repeated = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
        stream = start + repeated * (nbytes // len(block)) + packer.flush()
        crc = zlib.crc32(header)
        for _ in range(nbytes // len(block)):
            crc = zlib.crc32(block, crc)
        members.append((f"{name}.npy", 8, stream, crc, len(header) + nbytes))
    return _zip_by_hand(path, members)
