"""Weight files are checked from their headers before anything is read: a file of a few
kilobytes that declares a 1.4 GiB convolution (3x3x64x650000, float32) is refused in one line,
in every format, by a process whose peak memory grows by less than ``GROWTH_LIMIT`` (measured
against the same child's own peak before the read, never as this machine's bytes), and with
neither PyTorch nor MXNet imported; pickled Python objects in a ``.pth`` are refused without
advice to run them."""
from __future__ import annotations

import functools
import json
import math
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import WeightsError
from common.layers import VGG19
from common.tools.io import weights as weight_io
from common.tools.io.weights import load_weights
from common.weights import random_weights

from .. import weight_files
from ..conftest import require
from ..weight_files import HUGE

ROOT = Path(__file__).resolve().parents[2]
# A refusal reads headers only: a few MiB at most. The files declare 1,428 MiB (the old readers
# allocated 1.4 to 3.9 GiB for them); any bound between is a fair test of "nothing was read".
GROWTH_LIMIT = 256 * 2**20
DECLARED = math.prod(HUGE) * 4


def _first_conv() -> dict[str, np.ndarray]:
    return dict(random_weights(0, 0))  # features.0.weight and .bias: VGG-19 cut after conv1_1


def _gluon_first_conv() -> dict[str, tuple[tuple[int, ...], bytes]]:
    return {key: (array.shape, array.tobytes()) for key, array in _first_conv().items()}


# kind -> (writer of the file into a folder, the words its refusal says)
HUGE_FILES = {
    "npz": (lambda d: weight_files.write_npz_with_zeros(d / "huge.npz", _first_conv(), {"features.2.weight": HUGE}),
        f"features.2.weight has shape {HUGE}, VGG-19 needs (64, 64, 3, 3)"),
    "h5": (lambda d: weight_files.write_keras_declaring(d / "huge.weights.h5"),
           "holds 1 3x3 convolutions; VGG-16 has 13 and VGG-19 16"),
    "pth": (lambda d: weight_files.write_torch_declaring(
        d / "huge.pth", {"features.0.weight": ("FloatStorage", math.prod(HUGE), HUGE)}),
        f"storage 0 declares {DECLARED:,} bytes, the file holds none for it"),
    "legacy pth": (lambda d: weight_files.write_torch_declaring(
        d / "huge-legacy.pth", {"features.0.weight": ("FloatStorage", math.prod(HUGE), HUGE)}, legacy=True),
        f"storage 0 declares {DECLARED:,} bytes that the file does not hold"),
    "params": (lambda d: weight_files.write_gluon_declaring(
        d / "huge.params", {"features.0.weight": (HUGE, b""), "features.0.bias": (HUGE[:1], b"")}),
        f"array 0 declares {DECLARED:,} bytes, more than the file holds after it"),
}

CHILD = r"""
import json, resource, sys
import h5py, numpy, zipfile  # the readers' own imports, before the peak the read is measured from
from common.errors import UserError
from common.tools.io.weights import load_weights

def peak():
    # VmHWM: this process's own high-water mark (ru_maxrss starts from the parent's resident set,
    # carried over fork and exec, which hides a child's growth when the parent is the larger).
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

before = peak()
try:
    said = "loaded " + " ".join(sorted(load_weights(sys.argv[1])))
except UserError as exc:
    said = str(exc)
print(json.dumps({"said": said, "grew": peak() - before,
                  "frameworks": sorted(m for m in ("torch", "torchvision", "mxnet") if m in sys.modules)}))
"""


def read_in_child(path: Path) -> dict:
    """What a fresh process that only reads ``path`` says, how much its peak memory grew in the
    read, and the frameworks it imported."""
    pytest.importorskip("resource")
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@functools.lru_cache(maxsize=None)
def _huge_file(kind: str, folder: Path) -> Path:
    return HUGE_FILES[kind][0](folder)


@functools.lru_cache(maxsize=None)
def _child_reading(kind: str, folder: Path) -> dict:
    return read_in_child(_huge_file(kind, folder))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("huge")


@pytest.mark.parametrize("kind", list(HUGE_FILES))
def test_a_file_declaring_a_huge_array_is_refused_in_one_line(kind, folder):
    path = _huge_file(kind, folder)
    assert path.stat().st_size < 2 * 2**20  # a deflated npz member takes 1.4 MB, the rest kilobytes
    with pytest.raises(WeightsError) as caught:
        load_weights(str(path))
    text = str(caught.value)
    assert "\n" not in text and HUGE_FILES[kind][1] in text, text


@pytest.mark.parametrize("kind", list(HUGE_FILES))
def test_the_refusal_allocates_nothing_it_declares(kind, folder):
    seen = _child_reading(kind, folder)
    assert HUGE_FILES[kind][1] in seen["said"], seen
    assert seen["grew"] < GROWTH_LIMIT, f"the refusal grew the peak by {seen['grew'] / 2**20:.0f} MiB"


@pytest.mark.parametrize("kind", list(HUGE_FILES))
def test_the_refusal_comes_before_any_framework_is_imported(kind, folder):
    seen = _child_reading(kind, folder)
    assert HUGE_FILES[kind][1] in seen["said"] and seen["frameworks"] == [], seen


def test_an_unused_member_of_an_npz_is_never_read(tmp_path):
    """A neutral file may carry more (a classifier, notes): what the network does not need is
    skipped unread, however much it declares (deflated, whole and valid here) or does not hold."""
    path = weight_files.write_npz_with_zeros(tmp_path / "extra.npz", _first_conv(), {"classifier.0.weight": HUGE})
    seen = read_in_child(path)
    assert seen["said"] == "loaded features.0.bias features.0.weight", seen
    assert seen["grew"] < GROWTH_LIMIT and seen["frameworks"] == [], seen
    path = weight_files.write_npz_declaring(tmp_path / "declared.npz", _first_conv(), {"classifier.0.weight": HUGE})
    assert set(load_weights(str(path))) == set(VGG19.parameter_shapes(0))


def test_a_file_whose_reader_would_allocate_more_than_the_bound_is_refused(tmp_path, monkeypatch):
    """torch.load reads every tensor a file holds, the classifier too: the bytes of all of them
    are held to the bound (lowered here, so that the file stays small)."""
    monkeypatch.setattr(weight_io, "MAX_DECLARED", 2**20)
    extra = np.zeros(2**19, np.float32)  # 2 MiB beside the convolution
    tensors = {key: ("FloatStorage", array.size, array.shape) for key, array in _first_conv().items()}
    tensors["classifier.0.weight"] = ("FloatStorage", extra.size, extra.shape)
    data = {str(i): array.tobytes() for i, array in enumerate([*_first_conv().values(), extra])}
    path = weight_files.write_torch_declaring(tmp_path / "big.pth", tensors, data)
    with pytest.raises(WeightsError, match="declares 2 MiB of arrays, more than the 1 MiB a VGG's weights file "
                                           "may hold: refused before reading it"):
        load_weights(str(path))
    monkeypatch.setattr(weight_io, "MAX_DECLARED", 2**30)
    require("torch")
    assert set(load_weights(str(path))) == set(VGG19.parameter_shapes(0))  # the real bound lets it through


def test_a_gluon_file_counts_every_array_mxnet_would_allocate(tmp_path):
    """MXNet loads every array of a .params file: the dense layers count toward the bound as
    much as the convolutions (a Gluon file must hold all 13 or 16, too many to write here)."""
    from common.tools.io.params_headers import gluon_headers

    extra = np.zeros(1000, np.float32)
    path = weight_files.write_gluon_declaring(tmp_path / "w.params", {
        **_gluon_first_conv(), "output.weight": (extra.shape, extra.tobytes())})
    arrays, allocated = gluon_headers(path, "test")
    assert allocated == (64 * 3 * 3 * 3 + 64 + 1000) * 4 and arrays["output.weight"] == ((1000,), np.float32)


class Marker:
    """Unpickling this would create the marker file: a weights file must never run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pickled code ran",))


def _objects_files(folder: Path) -> dict[str, Path]:
    marker = folder / "marker"
    legacy = folder / "plain-pickle.pth"
    with open(legacy, "wb") as f:
        pickle.dump({"features.0.weight": Marker(marker)}, f)
    zipped = weight_files.write_torch_declaring(folder / "system.pth", {}, extra=b"cos\nsystem\n")
    return {"a plain pickle of an object": legacy, "a torch zip naming os.system": zipped}


@pytest.mark.parametrize("case", ["a plain pickle of an object", "a torch zip naming os.system"])
def test_a_pth_of_python_objects_is_refused_without_advice_to_run_it(tmp_path, case):
    path = _objects_files(tmp_path)[case]
    with pytest.raises(WeightsError) as caught:
        load_weights(str(path))
    text = str(caught.value)
    assert "\n" not in text and "holds Python objects beyond tensors" in text and "not loaded" in text, text
    assert "weights_only" not in text and "False" not in text
    assert not (tmp_path / "marker").exists()


def test_torchs_own_refusal_of_python_objects_is_said_without_its_advice(tmp_path):
    """Should a file pass the header check and torch.load still refuse it, torch's message (which
    advises weights_only=False, running the file's code) is not passed on."""
    require("torch")
    from common.registry import framework_tools

    path = _objects_files(tmp_path)["a plain pickle of an object"]
    with pytest.raises(WeightsError) as caught:
        framework_tools("torch").read_weights_file(path)
    text = str(caught.value)
    assert "holds Python objects beyond tensors" in text and "weights_only" not in text, text
    assert not (tmp_path / "marker").exists()


def test_a_legacy_torch_file_is_read_from_its_checked_headers(tmp_path):
    """torch.save's format before 1.6 (torchvision's own VGG files are in it) is read too."""
    require("torch")
    import torch

    weights = random_weights(2, 0)
    torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, tmp_path / "old.pth",
               _use_new_zipfile_serialization=False)
    loaded = load_weights(str(tmp_path / "old.pth"))
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)


def test_what_torch_save_writes_for_a_state_dict_passes_the_header_check(tmp_path):
    """The stand-ins cover what torch.save writes for state dicts people save: Parameters, a
    tensor with attributes, bfloat16, a training checkpoint's nested state_dict beside numbers,
    text, bytes, a set and a device."""
    require("torch")
    import torch

    weights = random_weights(5, 0)
    kernel = torch.from_numpy(weights["features.0.weight"]).clone()
    kernel.note = "an attribute"  # pickled through _rebuild_from_type_v2
    bias = torch.nn.Parameter(torch.from_numpy(weights["features.0.bias"]))
    state = {"features.0.weight": kernel, "features.0.bias": bias, "features.2.bias_half": torch.zeros(3, dtype=torch.bfloat16)}
    torch.save({"epoch": 3, "arch": "vgg19", "tag": b"ab", "seen": {1, 2}, "device": torch.device("cpu"),
                "state_dict": state}, tmp_path / "checkpoint.pth")
    loaded = load_weights(str(tmp_path / "checkpoint.pth"))
    assert all(np.array_equal(loaded[k], weights[k]) for k in weights)


def test_a_name_with_control_characters_is_shown_escaped(tmp_path):
    from common.errors import shown

    path = tmp_path / "bad\nname\x1b[2J.npz"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    with pytest.raises(WeightsError) as caught:
        load_weights(str(path))
    text = str(caught.value)
    assert "\n" not in text and "\x1b" not in text and "bad\\nname\\x1b[2J.npz" in text, text
    assert shown("a b\té\udcff") == "a b\\té\\udcff"
