"""Every kind of bad input, thrown at run.py (and the shared options at compare.py and bench.py):
exit status 2, one line on stderr, no traceback, nothing already written touched, and found
before any network is built or weight downloaded. Called in-process, so the table stays fast."""
from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.weights import random_weights

from .conftest import gpu_usable, require, synthetic_image

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RUN, COMPARE, BENCH = _script("run"), _script("compare"), _script("bench")


class Evil:
    """Unpickling this would create the marker file: a weights file must never run it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pickled code ran",))


@pytest.fixture
def tmp(tmp_path):
    Image.fromarray((synthetic_image(1, (60, 80)) * 255).astype(np.uint8)).save(tmp_path / "content.png")
    Image.fromarray((synthetic_image(2, (50, 50)) * 255).astype(np.uint8)).save(tmp_path / "style.png")
    png = (tmp_path / "content.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("just text")
    (tmp_path / "folder").mkdir()
    (tmp_path / "out.png").write_bytes(b"earlier result")
    weights = random_weights(0, 29)
    np.savez(tmp_path / "short.npz", **{k: v for k, v in weights.items() if k != "features.28.weight"})
    np.savez(tmp_path / "shape.npz", **{**weights, "features.0.weight": np.zeros((64, 3, 5, 5), np.float32)})
    np.savez(tmp_path / "nan.npz", **{**weights, "features.2.bias": np.full(64, np.nan, np.float32)})
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    (tmp_path / "corrupt.pth").write_bytes(b"\x80\x02 not a state dict")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"features.0.weight": Evil(str(tmp_path / "marker"))}, f)
    return tmp_path


BAD = {
    # files
    "missing content": (["--content", "nope.jpg"], "image not found"),
    "content not an image": (["--content", "{tmp}/notes.txt"], "not an image"),
    "content empty": (["--content", "{tmp}/empty.png"], "empty.png"),
    "content truncated": (["--content", "{tmp}/truncated.png"], "truncated.png"),
    "content is a folder": (["--content", "{tmp}/folder"], "is a folder"),
    "style missing": (["--style", "{tmp}/none.png"], "image not found"),
    # weights
    "missing weights file": (["--weights", "{tmp}/nope.npz"], "no such file"),
    "weights missing an array": (["--weights", "{tmp}/short.npz"], "has no features.28.weight"),
    "weights of the wrong shape": (["--weights", "{tmp}/shape.npz"], "(64, 3, 3, 3)"),
    "weights with NaN": (["--weights", "{tmp}/nan.npz"], "NaN"),
    "corrupt npz": (["--weights", "{tmp}/corrupt.npz"], "cannot read weights file"),
    "corrupt pth": (["--weights", "{tmp}/corrupt.pth"], "cannot read weights file"),
    "pickled code in a pth": (["--weights", "{tmp}/evil.pth"], "cannot read weights file"),
    "weights of another format": (["--weights", "{tmp}/notes.txt"], ".npz"),
    # numbers
    "size too small": (["--size", "31", "64"], "at least 32"),
    "size not a number": (["--size", "300", "wide"], "not a whole number"),
    "size with three numbers": (["--size", "300", "450", "600"], "one number (the long edge) or two"),
    "long edge too small": (["--size", "20"], "at least 32"),
    "negative long edge": (["--size", "-300"], "positive"),
    "zero steps": (["--steps", "0"], "--steps"),
    "negative lr": (["--lr", "-0.1"], "--lr"),
    "nan lr": (["--lr", "nan"], "--lr"),
    "infinite lr": (["--lr", "inf"], "--lr"),
    "lr not a number": (["--lr", "fast"], "not a number"),
    "zero decay interval": (["--lr-decay-every", "0"], "--lr-decay-every"),
    "decay factor zero": (["--lr-decay-factor", "0"], "--lr-decay-factor"),
    "decay factor above 1": (["--lr-decay-factor", "1.5"], "--lr-decay-factor"),
    "zero scales": (["--scales", "0"], "--scales"),
    "scale factor 1": (["--scale-factor", "1"], "--scale-factor"),
    "infinite scale factor": (["--scale-factor", "inf"], "--scale-factor"),
    "zero scale steps": (["--scale-steps", "0", "--scales", "2"], "--scale-steps"),
    "scale lr nan": (["--scale-lr", "nan"], "--scale-lr"),
    "zero style scale": (["--style-scale", "0"], "--style-scale"),
    "huge style scale": (["--style-scale", "100"], "--style-scale"),
    "negative blend weight": (["--style-blend", "-1"], "--style-blend"),
    "blend weights for two styles, one style": (["--style-blend", "0.7", "0.3"], "2 weights for 1 style"),
    "negative content weight": (["--content-weight", "-1"], "--content-weight"),
    "infinite style weight": (["--style-weight", "inf"], "--style-weight"),
    "negative tv weight": (["--tv-weight", "-1"], "--tv-weight"),
    "all weights zero": (["--content-weight", "0", "--style-weight", "0", "--tv-weight", "0"], "all loss weights"),
    "negative seed": (["--seed", "-1"], "--seed"),
    "negative save-every": (["--save-every", "-2"], "--save-every"),
    "zero checkpoint-every": (["--checkpoint-every", "0"], "--checkpoint-every"),
    "negative max memory": (["--max-memory", "-1"], "--max-memory"),
    "nan max memory": (["--max-memory", "nan"], "--max-memory"),
    # layers and choices
    "unknown layer": (["--style-layers", "relu1_1,relu9_9"], "unknown VGG-19 layer"),
    "unknown optimizer": (["--optimizer", "sgd"], "invalid choice"),
    "unknown init": (["--init", "pink"], "invalid choice"),
    "unknown colour mode": (["--preserve-colors", "sepia"], "invalid choice"),
    "unknown backend": (["--backend", "jax"], "invalid choice"),
    "unknown precision": (["--precision", "fp8"], "invalid choice"),
    # paths
    "unwritable output folder": (["--output", "{tmp}/notes.txt/out.png"], "cannot write to folder"),
    "output is a folder": (["--output", "{tmp}/folder"], "is a folder"),
    "unknown output extension": (["--output", "{tmp}/out.xyz"], "unknown image extension"),
    "output Pillow reads but cannot write": (["--output", "{tmp}/result.psd"], "cannot write .psd"),
    "plot is a folder": (["--plot", "{tmp}/folder"], "is a folder"),
    "plot format matplotlib cannot write": (["--plot", "{tmp}/curves.bmp"], "--plot"),
    "unwritable log": (["--log", "{tmp}/notes.txt/log.jsonl"], "cannot write to folder"),
    "log is a folder": (["--log", "{tmp}/folder"], "is a folder"),
    "checkpoint is a folder": (["--checkpoint", "{tmp}/folder"], "is a folder"),
    "unwritable checkpoint": (["--checkpoint", "{tmp}/notes.txt/c.npz"], "cannot write to folder"),
    "resume from nothing": (["--resume", "{tmp}/none.npz"], "no such file"),
    "resume from a non-checkpoint": (["--resume", "{tmp}/corrupt.npz"], "not a readable checkpoint"),
    "too large for the memory allowed": (["--size", "3000", "--max-memory", "2"], "the largest that fits is --size"),
    "too large for this machine": (["--size", "40000"], "is free: the largest that fits"),
    # what the backend cannot do
    "mxnet with bf16": (["--backend", "mxnet", "--precision", "bf16"], "bf16"),
    "mxnet with compile": (["--backend", "mxnet", "--compile"], "--compile"),
}


def call(module, argv, capsys) -> tuple[int, list[str]]:
    try:
        status = module.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_run_refuses_bad_input_in_one_line(tmp, case, capsys, monkeypatch):
    extra, words = BAD[case]
    extra = [a.replace("{tmp}", str(tmp)) for a in extra]
    if "mxnet" in extra:
        require("mxnet")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    base = {"--content": tmp / "content.png", "--style": tmp / "style.png", "--output": tmp / "out.png",
            "--weights": "random", "--steps": "2", "--size": ["32", "32"], "--device": "cpu"}
    args = [x for flag, value in base.items() if flag not in extra
            for x in [flag, *(value if isinstance(value, list) else [value])]]
    status, lines = call(RUN, args + extra, capsys)
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith("run.py: error: ") and words in lines[0], lines[0]
    assert (tmp / "out.png").read_bytes() == b"earlier result"  # nothing already written is touched
    assert not (tmp / "marker").exists()  # no pickled code ran
    assert not (tmp / "cache").exists()  # nothing downloaded


def test_at_least_forty_cases():
    assert len(BAD) >= 40


def test_an_image_bomb_is_refused_in_one_line(tmp, capsys, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # the 60x80 content is then "too many pixels"
    status, lines = call(RUN, ["--content", tmp / "content.png", "--style", tmp / "style.png", "--weights", "random",
                               "--output", tmp / "out.png", "--size", 32, 32], capsys)
    assert status == 2 and len(lines) == 1 and "pixels" in lines[0], lines


def test_gpu_without_a_usable_gpu_is_refused_before_the_weights(tmp, backend_name, capsys, monkeypatch):
    if gpu_usable(backend_name)[0]:
        pytest.skip("a GPU is usable here")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    status, lines = call(RUN, ["--backend", backend_name, "--device", "gpu", "--content", tmp / "content.png",
                               "--style", tmp / "style.png", "--weights", "imagenet", "--output", tmp / "out.png"],
                         capsys)
    assert status == 2 and len(lines) == 1 and "--device gpu" in lines[0], lines
    assert not (tmp / "cache").exists()  # refused before any download


@pytest.mark.parametrize("argv, words", [
    (["--seed", "3"], "--seed 3 changes nothing"),
    (["--backend", "torch", "--align-adam-epsilon"], "--align-adam-epsilon changes nothing"),
])
def test_options_that_change_nothing_warn(tmp, capsys, monkeypatch, argv, words):
    """--seed without random weights or noise, and aligning PyTorch's epsilon with itself: one warning."""
    require("torch")
    npz = tmp / "w.npz"
    np.savez(npz, **random_weights(0, 29))
    weights = ["--weights", npz] if argv[0] == "--seed" else ["--weights", "random"]
    status, lines = call(RUN, ["--content", tmp / "content.png", "--style", tmp / "style.png", *weights,
                               "--output", tmp / "new.png", "--size", 32, 32, "--steps", 1, "--device", "cpu", *argv],
                         capsys)
    assert status == 0
    assert sum(words in line for line in lines) == 1 and any(line.startswith("run.py: warning: ") for line in lines)


SHARED = {
    "zero steps": (["--steps", "0"], "--steps"),
    "nan lr": (["--lr", "nan"], "--lr"),
    "unknown layer": (["--content-layers", "relu9_9"], "unknown VGG-19 layer"),
    "missing content": (["--content", "nope.jpg"], "image not found"),
    "bad weights": (["--weights", "{tmp}/corrupt.npz"], "cannot read weights file"),
}


@pytest.mark.parametrize("case", SHARED, ids=list(SHARED))
def test_compare_refuses_the_shared_options_in_one_line(tmp, case, capsys):
    extra, words = SHARED[case]
    extra = [a.replace("{tmp}", str(tmp)) for a in extra]
    base = ["--content", tmp / "content.png", "--style", tmp / "style.png", "--weights", "random", "--size", 32, 32,
            "--report", tmp / "report"]
    status, lines = call(COMPARE, base + extra, capsys)
    assert status == 2 and len(lines) == 1 and words in lines[0], lines
    assert not (tmp / "report").exists()


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], "--steps"),
    (["--sizes", "10x10"], "at least 32"),
    (["--sizes", "wide"], "HxW"),
    (["--backends", "jax"], "choose from"),
])
def test_bench_refuses_bad_options_in_one_line(tmp, argv, words, capsys):
    status, lines = call(BENCH, argv, capsys)
    assert status == 2 and len(lines) == 1 and words in lines[0], lines
