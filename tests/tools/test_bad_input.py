"""Every kind of bad input, thrown at run.py (and the shared options at compare.py and bench.py):
exit status 2, one line on stderr, no traceback, nothing already written touched, nothing
created or downloaded, and found before any network is built. Called in-process, so the table
stays fast."""
from __future__ import annotations

import argparse
import functools
import hashlib
import io
import pickle
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.errors import UserError
from common.tools.cli import preflight
from common.weights import random_weights

from ..conftest import gpu_usable, require, script, synthetic_image

ROOT = Path(__file__).resolve().parents[2]


RUN, COMPARE, BENCH = script("run"), script("compare"), script("bench")


class Evil:
    """Unpickling this would create the marker file: a weights file must never run it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pickled code ran",))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=None)
def bomb_png(side: int, whole: bool) -> bytes:
    """A 1-bit black PNG of side x side pixels: kilobytes on disk, side**2 pixels decoded.
    ``whole=False`` stops after the header's first rows (Pillow refuses it from the header)."""
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte, then the packed bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side if whole else 1)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


@pytest.fixture
def tmp(tmp_path):
    Image.fromarray((synthetic_image(1, (60, 80)) * 255).astype(np.uint8)).save(tmp_path / "content.png")
    Image.fromarray((synthetic_image(2, (50, 50)) * 255).astype(np.uint8)).save(tmp_path / "style.png")
    png = (tmp_path / "content.png").read_bytes()
    (tmp_path / "truncated.png").write_bytes(png[: len(png) // 2])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("just text")
    (tmp_path / "bomb.png").write_bytes(bomb_png(20000, True))  # 400 Mpx: over the 268 Mpx limit, under twice it
    (tmp_path / "bigger-bomb.png").write_bytes(bomb_png(100000, False))  # 10 Gpx: Pillow's own error
    (tmp_path / "folder").mkdir()
    (tmp_path / "out.png").write_bytes(b"earlier result")
    (tmp_path / "out_step0002.png").write_bytes(png)  # a photo named as a snapshot of out.png would be
    # Each damaged file holds only the arrays before its fault: refused there, it stays a few kilobytes.
    first = random_weights(0, 0)  # features.0.weight and .bias only
    np.savez(tmp_path / "short.npz", **{"features.0.bias": first["features.0.bias"]})
    np.savez(tmp_path / "shape.npz", **{"features.0.weight": np.zeros((64, 3, 5, 5), np.float32)})
    np.savez(tmp_path / "nan.npz", **{**first, "features.0.bias": np.full(64, np.nan, np.float32)})
    np.savez(tmp_path / "inf.npz", **{"features.0.weight": np.full((64, 3, 3, 3), np.inf, np.float32)})
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04" + b"\0" * 64)
    np.savez(tmp_path / "text.npz", **{"features.0.weight": np.full((64, 3, 3, 3), "w")})  # isfinite would raise
    np.savez(tmp_path / "complex.npz", **{"features.0.weight": first["features.0.weight"] + 1j})
    np.savez(tmp_path / "float64.npz", **{"features.0.weight": np.full((64, 3, 3, 3), 1e300)})  # inf in float32
    (tmp_path / "corrupt.pth").write_bytes(b"\x80\x02 not a state dict")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"features.0.weight": Evil(str(tmp_path / "marker"))}, f)
    evil = np.empty(1, dtype=object)
    evil[0] = Evil(str(tmp_path / "marker"))
    np.savez(tmp_path / "evil.npz", **{"features.0.weight": evil})  # an object array is pickled
    return tmp_path


def tree(folder: Path) -> dict[str, str]:
    """Every file and folder under ``folder`` with a hash of its bytes: what "nothing touched" compares."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


BAD = {
    # files
    "missing content": (["--content", "nope.jpg"], "image not found"),
    "content not an image": (["--content", "{tmp}/notes.txt"], "not an image"),
    "content empty": (["--content", "{tmp}/empty.png"], "is empty (0 bytes)"),
    "content truncated": (["--content", "{tmp}/truncated.png"], "truncated.png"),
    "content is a folder": (["--content", "{tmp}/folder"], "is a folder"),
    "content an image bomb": (["--content", "{tmp}/bomb.png"], "more pixels than the 268,435,456"),
    "style a bigger image bomb": (["--style", "{tmp}/bigger-bomb.png"], "decompression bombs"),
    "style missing": (["--style", "{tmp}/none.png"], "image not found"),
    "second style not an image": (["--style", "{tmp}/style.png", "{tmp}/notes.txt"], "not an image"),
    "content an empty name": (["--content", ""], "--content is an empty file name"),
    "content named as a snapshot": (["--content", "{tmp}/out_step0002.png", "--save-every", "2"],
                                    "is the snapshot --save-every 2 writes at step 2"),
    "checkpoint named as a snapshot": (["--checkpoint", "{tmp}/out_step0002.png", "--save-every", "1"],
                                       "is the snapshot --save-every 1 writes at step 2"),
    "content a name with a newline": (["--content", "{tmp}/two\nlines.png"], "image not found: {tmp}/two\\nlines.png"),
    "content a name too long": (["--content", "{tmp}/" + "c" * 300 + ".png"], "304 bytes long, more than the 255"),
    # weights
    "missing weights file": (["--weights", "{tmp}/nope.npz"], "no such file"),
    "weights missing an array": (["--weights", "{tmp}/short.npz"], "has no features.0.weight"),
    "weights of the wrong shape": (["--weights", "{tmp}/shape.npz"], "(64, 3, 3, 3)"),
    "weights with NaN": (["--weights", "{tmp}/nan.npz"], "NaN or infinite"),
    "weights with inf": (["--weights", "{tmp}/inf.npz"], "features.0.weight holds NaN or infinite"),
    "corrupt npz": (["--weights", "{tmp}/corrupt.npz"], "cannot read weights file"),
    "corrupt pth": (["--weights", "{tmp}/corrupt.pth"], "cannot read weights file"),
    "pickled code in a pth": (["--weights", "{tmp}/evil.pth"], "cannot read weights file"),
    "pickled code in an npz": (["--weights", "{tmp}/evil.npz"], "cannot read weights file"),
    "weights of another format": (["--weights", "{tmp}/notes.txt"], ".npz"),
    "weights a name too long": (["--weights", "{tmp}/" + "w" * 300 + ".npz"], "--weights: the name"),
    "weights of text": (["--weights", "{tmp}/text.npz"], "features.0.weight holds <U1 values, not real numbers"),
    "complex weights": (["--weights", "{tmp}/complex.npz"], "holds complex64 values, not real numbers"),
    "weights beyond float32": (["--weights", "{tmp}/float64.npz"], "NaN or infinite values (in float32)"),
    # numbers: every numeric option, negative, zero, NaN, infinite, out of range
    "size too small": (["--size", "31", "64"], "at least 32"),
    "size too large": (["--size", "70000", "64"], "no side may exceed 65536"),
    "size not a number": (["--size", "300", "wide"], "not a whole number"),
    "size with three numbers": (["--size", "300", "450", "600"], "one number (the long edge) or two"),
    "plateau window negative": (["--plateau-window", "-1"], "--plateau-window must be a whole number >= 0"),
    "plateau window not whole": (["--plateau-window", "2.5"], "not a whole number"),
    "plateau fraction 0": (["--plateau-fraction", "0"], "--plateau-fraction must be a number between 0 and 1"),
    "plateau fraction above 1": (["--plateau-fraction", "1.5"], "--plateau-fraction must be a number between 0 and 1"),
    "plateau fraction NaN": (["--plateau-fraction", "nan"], "--plateau-fraction"),
    "long edge too small": (["--size", "20"], "from 32 to 65536"),
    "negative long edge": (["--size", "-300"], "from 32 to 65536"),
    "long edge beyond any float": (["--size", "1" + "0" * 400], "from 32 to 65536"),
    "zero steps": (["--steps", "0"], "--steps must be a positive whole number"),
    "negative steps": (["--steps", "-5"], "--steps must be a positive whole number"),
    "fractional steps": (["--steps", "2.5"], "argument --steps: '2.5' is not a whole number"),
    "negative lr": (["--lr", "-0.1"], "--lr must be a finite number > 0"),
    "zero lr": (["--lr", "0"], "--lr must be a finite number > 0"),
    "nan lr": (["--lr", "nan"], "argument --lr: 'nan' is not a finite number"),
    "infinite lr": (["--lr", "inf"], "argument --lr: 'inf' is not a finite number"),
    "lr beyond a double": (["--lr", "1e400"], "'1e400' is not a finite number"),
    "lr not a number": (["--lr", "fast"], "not a number"),
    "zero decay interval": (["--lr-decay-every", "0"], "--lr-decay-every"),
    "negative decay interval": (["--lr-decay-every", "-50"], "--lr-decay-every"),
    "decay factor zero": (["--lr-decay-factor", "0"], "--lr-decay-factor must be in (0, 1]"),
    "decay factor above 1": (["--lr-decay-factor", "1.5"], "--lr-decay-factor must be in (0, 1]"),
    "decay factor nan": (["--lr-decay-factor", "nan"], "argument --lr-decay-factor"),
    "zero scales": (["--scales", "0"], "--scales must be a positive whole number"),
    "too many scales": (["--scales", "12"], "use at most 11 scales"),
    "astronomically many scales": (["--scales", "9" * 30], "use at most 11 scales"),
    "scale factor 1": (["--scale-factor", "1"], "--scale-factor must be a finite number > 1"),
    "negative scale factor": (["--scale-factor", "-2"], "--scale-factor must be a finite number > 1"),
    "infinite scale factor": (["--scale-factor", "inf"], "argument --scale-factor"),
    "scale factor that overflows": (["--scales", "3", "--scale-factor", "1e200"], "use at most 1 scale"),
    "zero scale steps": (["--scale-steps", "0", "--scales", "2"], "--scale-steps"),
    "negative scale steps": (["--scale-steps", "-1"], "--scale-steps"),
    "scale lr nan": (["--scale-lr", "nan"], "argument --scale-lr"),
    "zero scale lr": (["--scale-lr", "0"], "--scale-lr must be a finite number > 0"),
    "zero style scale": (["--style-scale", "0"], "--style-scale must be in (0, 4]"),
    "huge style scale": (["--style-scale", "100"], "--style-scale must be in (0, 4]"),
    "negative blend weight": (["--style-blend", "-1"], "--style-blend"),
    "all blend weights zero": (["--style-blend", "0"], "not all 0"),
    "blend weights whose sum overflows": (["--style", "{tmp}/style.png", "{tmp}/style.png", "--style-blend", "1e308",
                                           "1e308"], "with a finite sum"),
    "blend weight nan": (["--style-blend", "nan"], "argument --style-blend"),
    "blend shares for two styles, one style": (["--style-blend", "0.7", "0.3"], "2 shares for 1 style"),
    "negative content weight": (["--content-weight", "-1"], "--content-weight must be a finite number >= 0"),
    "nan content weight": (["--content-weight", "nan"], "argument --content-weight"),
    "infinite style weight": (["--style-weight", "inf"], "argument --style-weight"),
    "negative style weight": (["--style-weight", "-10"], "--style-weight must be a finite number >= 0"),
    "negative tv weight": (["--tv-weight", "-1"], "--tv-weight must be a finite number >= 0"),
    "all weights zero": (["--content-weight", "0", "--style-weight", "0", "--tv-weight", "0"],
                         "--content-weight, --style-weight and --tv-weight are all 0"),
    "negative seed": (["--seed", "-1"], "--seed must be a whole number >= 0"),
    "seed not whole": (["--seed", "0.5"], "argument --seed"),
    "negative save-every": (["--save-every", "-2"], "--save-every must be a whole number >= 0"),
    "save-every nan": (["--save-every", "nan"], "argument --save-every"),
    "zero checkpoint-every": (["--checkpoint-every", "0"], "--checkpoint-every must be a whole number >= 1"),
    "negative checkpoint-every": (["--checkpoint-every", "-10"], "--checkpoint-every must be a whole number >= 1"),
    "negative max memory": (["--max-memory", "-1"], "--max-memory must be a positive number of GiB"),
    "zero max memory": (["--max-memory", "0"], "--max-memory must be a positive number of GiB"),
    "nan max memory": (["--max-memory", "nan"], "argument --max-memory: 'nan' is not a finite number"),
    "infinite max memory": (["--max-memory", "inf"], "argument --max-memory"),
    # layers and choices
    "unknown layer": (["--style-layers", "relu1_1,relu9_9"], "unknown layer 'relu9_9'"),
    "unknown optimizer": (["--optimizer", "sgd"], "invalid choice"),
    "unknown init": (["--init", "pink"], "invalid choice"),
    "unknown colour mode": (["--preserve-colors", "sepia"], "invalid choice"),
    "unknown backend": (["--backend", "jax"], "invalid choice"),
    "unknown precision": (["--precision", "fp8"], "invalid choice"),
    # paths
    "unwritable output folder": (["--output", "{tmp}/notes.txt/out.png"], "cannot write to folder"),
    "output is a folder": (["--output", "{tmp}/folder"], "is a folder"),
    "unknown output extension": (["--output", "{tmp}/out.xyz"], "unknown image extension"),
    "output without an extension": (["--output", "{tmp}/result"], "unknown image extension (none)"),
    "output Pillow reads but cannot write": (["--output", "{tmp}/result.psd"], "cannot write .psd"),
    # Pillow lists a writer for these, which fails only when the result is saved, after the whole run
    "output a writer that refuses RGB": (["--output", "{tmp}/result.xbm"], "XBM writer cannot save an RGB picture"),
    "output a writer that raises ValueError": (["--output", "{tmp}/result.blp"], "BLP writer cannot save an RGB picture"),
    "output a stub writer": (["--output", "{tmp}/result.wmf"], "save handler not installed"),
    "output a writer that resizes": (["--output", "{tmp}/result.ico", "--size", "32", "48"],
                                     "ICO writer would store a 32x48 picture as 21x32"),
    "output longer than WebP holds": (["--output", "{tmp}/result.webp", "--size", "32", "20000"],
                                      "WEBP writer cannot save a picture 20000 pixels long"),
    "output longer than JPEG holds": (["--output", "{tmp}/result.jpg", "--size", "65536", "32"],
                                      "JPEG writer (libjpeg) cannot save a picture 65536 pixels long, at most 65500"),
    "output over the content": (["--output", "{tmp}/content.png"], "--output {tmp}/content.png is the --content file"),
    "plot is a folder": (["--plot", "{tmp}/folder"], "is a folder"),
    "plot format matplotlib cannot write": (["--plot", "{tmp}/curves.bmp"], "--plot"),
    "unwritable plot": (["--plot", "{tmp}/notes.txt/curves.png"], "cannot write to folder"),
    "plot over the output": (["--plot", "{tmp}/out.png"], "--plot {tmp}/out.png is also --output"),
    "unwritable log": (["--log", "{tmp}/notes.txt/log.jsonl"], "cannot write to folder"),
    "log is a folder": (["--log", "{tmp}/folder"], "is a folder"),
    "log over a style": (["--log", "{tmp}/style.png"], "is the --style file"),
    "log over the weights": (["--weights", "{tmp}/short.npz", "--log", "{tmp}/short.npz"], "is the --weights file"),
    "log an empty name": (["--log", ""], "--log is an empty file name"),
    "output a name too long": (["--output", "{tmp}/" + "o" * 300 + ".png"], "--output: the name"),
    "output under a folder name too long": (["--output", "{tmp}/new/" + "d" * 256 + "/out.png"], "256 bytes long"),
    "log a path too long": (["--log", "{tmp}/" + "/".join(["l" * 200] * 21) + "/log.jsonl"], "a path may have here"),
    "checkpoint a name too long": (["--checkpoint", "{tmp}/" + "k" * 300 + ".npz"], "--checkpoint: the name"),
    "resume a name too long": (["--resume", "{tmp}/" + "r" * 300 + ".npz"], "--resume: the name"),
    "checkpoint is a folder": (["--checkpoint", "{tmp}/folder"], "is a folder"),
    "unwritable checkpoint": (["--checkpoint", "{tmp}/notes.txt/c.npz"], "cannot write to folder"),
    "checkpoint over the content": (["--checkpoint", "{tmp}/content.png"], "is the --content file"),
    "checkpoint and log one file": (["--checkpoint", "{tmp}/c.npz", "--log", "{tmp}/c.npz"], "give each file its own"),
    "resume from nothing": (["--resume", "{tmp}/none.npz"], "no such file"),
    "resume from a non-checkpoint": (["--resume", "{tmp}/corrupt.npz"], "not a readable checkpoint"),
    # memory
    "too large for the memory allowed": (["--size", "3000", "--max-memory", "2"], "the largest that fits is --size"),
    "too large for this machine": (["--size", "40000"], "is free: the largest that fits"),
    "refused late, no folder made": (["--output", "{tmp}/new/out.png", "--plot", "{tmp}/new/p.png", "--checkpoint",
                                      "{tmp}/new/c.npz", "--size", "40000"], "the largest that fits"),
    # what the backend cannot do
    "mxnet with bf16": (["--backend", "mxnet", "--precision", "bf16"], "--precision bf16: the mxnet backend runs fp32"),
    "mxnet with compile": (["--backend", "mxnet", "--compile"], "--compile: the mxnet backend has no compile step"),
}


def call(module, argv, capture) -> tuple[int, list[str]]:
    """``module.main(argv)``'s status and its non-empty stderr lines (``capture``: capsys or capfd)."""
    try:
        status = module.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    err = capture.readouterr().err
    assert "Traceback" not in err
    return status, [line for line in err.splitlines() if line.strip()]


def with_base(base: dict, extra: list[str]) -> list[str]:
    """``extra`` after every option of ``base`` that ``extra`` does not give itself."""
    return [x for flag, value in base.items() if flag not in extra
            for x in [flag, *(value if isinstance(value, list) else [value])]] + extra


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_run_refuses_bad_input_in_one_line(tmp, case, capsys, monkeypatch):
    extra, words = BAD[case]
    extra = [a.replace("{tmp}", str(tmp)) for a in extra]
    words = words.replace("{tmp}", str(tmp))
    if "mxnet" in extra:
        require("mxnet")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    base = {"--content": tmp / "content.png", "--style": tmp / "style.png", "--output": tmp / "out.png",
            "--weights": "random", "--steps": "2", "--size": ["32", "32"], "--device": "cpu"}
    before = tree(tmp)
    status, lines = call(RUN, with_base(base, extra), capsys)
    assert status == 2 and len(lines) == 1, lines
    assert lines[0].startswith("run.py: error: ") and words in lines[0], lines[0]
    assert tree(tmp) == before  # nothing written touched, nothing created, no cache, no pickled code run


def test_a_damaged_tiff_is_one_line_even_where_libtiff_prints_its_own(tmp, capfd, monkeypatch):
    """libtiff writes "Using code not yet in table." to file descriptor 2 itself, past sys.stderr."""
    saved = io.BytesIO()
    Image.open(tmp / "content.png").save(saved, format="TIFF", compression="tiff_lzw")
    damaged = bytearray(saved.getvalue())
    damaged[8] ^= 0xFF  # the first byte of the LZW stream
    (tmp / "damaged.tif").write_bytes(damaged)
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    status, lines = call(RUN, ["--content", tmp / "damaged.tif", "--style", tmp / "style.png", "--weights", "random",
                               "--output", tmp / "out.png", "--size", 32, 32, "--device", "cpu"], capfd)
    assert status == 2 and len(lines) == 1 and "cannot read image" in lines[0], lines
    assert (tmp / "out.png").read_bytes() == b"earlier result"


def test_the_table_covers_every_numeric_option_of_run_py():
    numeric = {a.option_strings[0] for a in RUN.build_parser()._actions
               if a.type is not None and getattr(a.type, "__name__", "") in ("whole", "real")}
    covered = {arg for extra, _ in BAD.values() for arg in extra if arg.startswith("--")}
    assert len(numeric) >= 18 and numeric <= covered, numeric - covered
    assert len(BAD) >= 40


@pytest.mark.parametrize("argv", [["--lr", "nan"], ["--steps", "0"], ["--scales", "40"], ["--seed", "-1"],
                                  ["--style-blend", "1", "2"], ["--content", "nope.png"]])
def test_numbers_and_files_are_refused_before_the_sample_images_are_fetched(tmp_path, argv, capsys, monkeypatch):
    """Without --content or --style the chapter's images are downloaded: not before the numbers pass."""
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp_path / "cache"))
    status, lines = call(RUN, ["--weights", "random", "--output", tmp_path / "o.png", *argv], capsys)
    assert status == 2 and len(lines) == 1 and "default" not in lines[0], lines
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("flag", ["--output", "--log", "--plot", "--checkpoint", "--content"])
def test_a_path_the_system_cannot_look_up_is_one_line(tmp, flag, capsys, monkeypatch):
    """A symbolic link to itself on the way: the first stat fails with ELOOP, which pathlib's exists()
    hides (an output under it passed every check and failed after the run)."""
    (tmp / "loop").symlink_to("loop")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    base = {"--content": tmp / "content.png", "--style": tmp / "style.png", "--output": tmp / "out.png",
            "--weights": "random", "--steps": "2", "--size": ["32", "32"], "--device": "cpu"}
    before = tree(tmp)
    status, lines = call(RUN, with_base(base, [flag, str(tmp / "loop" / "x.png")]), capsys)
    assert status == 2 and len(lines) == 1 and f"{flag} {tmp}/loop/x.png: Too many levels of symbolic links" in lines[0]
    assert tree(tmp) == before


def test_a_checkpoint_may_be_the_file_it_resumes(tmp):
    args = RUN.build_parser().parse_args(["--checkpoint", str(tmp / "c.npz"), "--resume", str(tmp / "c.npz"),
                                          "--weights", "random"])
    preflight.check_distinct(args)  # the normal way to keep a resumed run resumable
    args.log = str(tmp / "c.npz")
    with pytest.raises(UserError, match="also --log|is the --resume file"):
        preflight.check_distinct(args)


def test_pickled_code_saved_by_torch_never_runs(tmp, capsys, monkeypatch):
    """The usual way a .pth carries code: torch.save of an object whose unpickling calls a function."""
    require("torch")
    import torch

    torch.save({"features.0.weight": Evil(str(tmp / "marker"))}, tmp / "saved.pth")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    status, lines = call(RUN, ["--content", tmp / "content.png", "--style", tmp / "style.png", "--weights",
                               tmp / "saved.pth", "--output", tmp / "out.png", "--size", 32, 32, "--device", "cpu"],
                         capsys)
    assert status == 2 and len(lines) == 1 and "cannot read weights file" in lines[0], lines
    assert not (tmp / "marker").exists() and (tmp / "out.png").read_bytes() == b"earlier result"


def test_gpu_without_a_usable_gpu_is_refused_before_the_weights(tmp, backend_name, capsys, monkeypatch):
    if gpu_usable(backend_name)[0]:
        pytest.skip("a GPU is usable here")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    # torchvision's file where its loader keeps it, never read: offline, a missing one is said first
    hub = tmp / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "vgg19-dcbb9e9d.pth").write_bytes(b"")
    monkeypatch.setenv("TORCH_HOME", str(tmp / "torch"))
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


@pytest.mark.parametrize("argv", [["--weights", "imagenet", "--init", "noise"], ["--weights", "random"]])
def test_a_seed_that_matters_is_not_warned_about(capsys, argv):
    require("torch")
    from common.registry import load_backend

    preflight.check_backend(RUN.build_parser().parse_args(["--seed", "3", *argv]), load_backend("torch"))
    assert "warning" not in capsys.readouterr().err


SHARED = {
    "zero steps": (["--steps", "0"], "--steps"),
    "nan lr": (["--lr", "nan"], "--lr"),
    "negative seed": (["--seed", "-1"], "--seed"),
    "too many scales": (["--scales", "9" * 20], "use at most"),
    "blend shares for two styles, one style": (["--style-blend", "1", "2"], "2 shares for 1 style"),
    "unknown layer": (["--content-layers", "relu9_9"], "unknown layer 'relu9_9'"),
    "missing content": (["--content", "nope.jpg"], "image not found"),
    "style a folder": (["--style", "{tmp}/folder"], "is a folder"),
    "bad weights": (["--weights", "{tmp}/corrupt.npz"], "cannot read weights file"),
    "zero timing steps": (["--timing-steps", "0"], "--timing-steps"),
    "report is a file": (["--report", "{tmp}/notes.txt"], "is a file"),
    "report under a file": (["--report", "{tmp}/notes.txt/r"], "cannot write to folder"),
    "report a name too long": (["--report", "{tmp}/" + "r" * 300], "--report: the name"),
    "too large for this machine": (["--size", "40000"], "is free: the largest that fits"),
    "too large for the memory allowed": (["--size", "2000", "--max-memory", "1"], "more than --max-memory 1"),
    "zero max memory": (["--max-memory", "0"], "--max-memory must be a positive number of GiB"),
}


@pytest.mark.parametrize("case", SHARED, ids=list(SHARED))
def test_compare_refuses_the_shared_options_in_one_line(tmp, case, capsys, monkeypatch):
    extra, words = SHARED[case]
    extra = [a.replace("{tmp}", str(tmp)) for a in extra]
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    base = {"--content": tmp / "content.png", "--style": tmp / "style.png", "--weights": "random",
            "--size": ["32", "32"], "--device": "cpu", "--report": tmp / "report"}
    before = tree(tmp)
    status, lines = call(COMPARE, with_base(base, extra), capsys)
    assert status == 2 and len(lines) == 1 and words in lines[0], lines
    assert tree(tmp) == before


@pytest.mark.parametrize("argv, words", [
    (["--steps", "0"], "--steps"),
    (["--sizes", "10x10"], "at least 32"),
    (["--sizes", "wide"], "HxW"),
    (["--backends", "jax"], "--backends must be one or more of"),
    (["memory", "--sizes", "200x300"], "--sizes must be two different sizes or more for memory, not 200x300"),
    (["--device", "tpu"], "invalid choice"),
    (["--precision", "fp8"], "invalid choice"),
    (["quality", "--cap", "nan"], "not a finite number"),
    (["memory", "--steps", "3"], "unrecognized arguments"),
    (["--quality"], "--quality is now a command: python scripts/bench.py quality"),
    (["--batch", "4"], "--batch is now a command"),
])
def test_bench_refuses_bad_options_in_one_line(tmp, argv, words, capsys):
    status, lines = call(BENCH, argv, capsys)
    assert status == 2 and len(lines) == 1 and words in lines[0], lines


@pytest.mark.parametrize("argv, words", [
    (["speed", "--steps", "-1"], "--steps"),
    (["speed", "--warmup", "-1"], "--warmup"),
    (["quality", "--steps", "0"], "--steps"),
    (["batch", "--pairs", "0"], "--pairs must be"),
    (["batch", "--steps", "0"], "--steps"),
    (["quality", "--cap", "-1"], "--cap"),
    (["quality", "--content", "{tmp}/notes.txt"], "not an image"),
    (["batch", "--style", "{tmp}/none.png"], "image not found"),
    (["speed", "--json", "{tmp}/folder"], "is a folder"),
    (["memory", "--json", "{tmp}/notes.txt/b.json"], "cannot write to folder"),
    (["quality", "--json", "{tmp}/" + "j" * 300 + ".json"], "--json: the name"),
    (["batch", "--backends", "torch,jax"], "--backends must be one or more of"),
    (["speed", "--backends", ","], "--backends must be one or more of"),
    (["memory", "--sizes", "200x300", "200x300"], "--sizes must be two different sizes or more for memory"),
])
def test_bench_options_are_checked_before_any_worker(tmp, argv, words):
    """preflight.check_bench: what bench.py must refuse before it starts a worker or downloads."""
    args = BENCH.build_parser().parse_args([a.replace("{tmp}", str(tmp)) for a in argv])
    with pytest.raises(UserError, match=re.escape(words)):
        preflight.check_bench(args)
    for command in ("speed", "quality", "memory", "batch"):
        preflight.check_bench(BENCH.build_parser().parse_args([command]))  # the defaults pass


WEB = {
    "negative port": (["--port", "-1"], "--port must be a whole number from 0 to 65535 (0: any free port), not -1"),
    "port too large": (["--port", "65536"], "--port must be a whole number from 0 to 65535 (0: any free port)"),
    "port not whole": (["--port", "80.5"], "argument --port: '80.5' is not a whole number"),
    "zero upload": (["--max-upload-mb", "0"], "--max-upload-mb must be a positive number of MiB, not 0.0"),
    "negative upload": (["--max-upload-mb", "-1"], "--max-upload-mb must be a positive number of MiB"),
    "nan upload": (["--max-upload-mb", "nan"], "argument --max-upload-mb: 'nan' is not a finite number"),
    "zero pixels": (["--max-pixels", "0"], "--max-pixels must be a whole number >= 1, not 0"),
    "negative pixels": (["--max-pixels", "-5"], "--max-pixels must be a whole number >= 1"),
}


@pytest.mark.parametrize("case", WEB, ids=list(WEB))
def test_web_refuses_bad_numbers_in_one_line_before_it_makes_its_folder(tmp, case, capsys):
    extra, words = WEB[case]
    status, lines = call(script("web"), [*extra, "--folder", tmp / "runs"], capsys)
    assert status == 2 and len(lines) == 1 and lines[0].startswith("web.py: error: ") and words in lines[0], lines
    assert not (tmp / "runs").exists()


def _numeric(parser) -> set[str]:
    """The options of ``parser`` (and of its commands) that take a number."""
    found = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found |= {flag for command in action.choices.values() for flag in _numeric(command)}
        elif getattr(action.type, "__name__", "") in ("whole", "real"):
            found.add(action.option_strings[0])
    return found


def test_bench_and_web_check_every_number_in_their_limit_table():
    from common.tools.cli.limits import BENCH_LIMITS, WEB_LIMITS

    assert _numeric(BENCH.build_parser()) == set(BENCH_LIMITS) - {"--backends"}
    assert _numeric(script("web").build_parser()) == set(WEB_LIMITS)


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--lr", "-1"], ["--scales", "12"], ["--seed", "-1"],
                                  ["--style-blend", "1", "2"], ["--content-weight", "0", "--style-weight", "0",
                                                                "--tv-weight", "0"], ["--max-memory", "0"],
                                  ["--size", "20"], ["--style-layers", "relu9_9"]])
def test_every_script_refuses_a_mistake_in_the_same_words(tmp, argv, capsys, monkeypatch):
    """One place per rule: run.py, compare.py and batch.py say the same line for the same option,
    before anything is made (batch.py: before Ray starts)."""
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp / "cache"))
    common = {"--content": tmp / "content.png", "--style": tmp / "style.png", "--weights": "random",
              "--size": ["32", "32"], "--device": "cpu"}
    batch = script("batch")
    said = {}
    for name, module, own in (("run.py", RUN, {"--output": tmp / "o.png"}),
                              ("compare.py", COMPARE, {"--report": tmp / "report"}),
                              ("batch.py", batch, {"--out": tmp / "out"})):
        before = tree(tmp)
        status, lines = call(module, with_base({**common, **own}, argv), capsys)
        assert status == 2 and len(lines) == 1 and lines[0].startswith(f"{name}: error: "), (name, lines)
        said[name] = lines[0][len(f"{name}: error: "):]
        assert tree(tmp) == before, name
    assert len(set(said.values())) == 1, said


def test_size_n_follows_the_contents_exif_orientation(tmp):
    """The configuration is built from the content's header: its size must be the one load_rgb
    decodes, a quarter turn included."""
    from common.images import image_size
    from common.tools.io.pictures import load_rgb

    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 60 x 80 (height x width), shown 80 x 60
    Image.open(tmp / "content.png").convert("RGB").save(tmp / "turned.jpg", exif=exif)
    assert preflight.picture_size(tmp / "turned.jpg") == image_size(load_rgb(tmp / "turned.jpg")) == (80, 60)
    assert preflight.picture_size(tmp / "content.png") == (60, 80)
    args = RUN.build_parser().parse_args(["--content", str(tmp / "turned.jpg"), "--style", str(tmp / "style.png"),
                                          "--weights", "random", "--size", "96", "--output", str(tmp / "o.png")])
    config, weights = preflight.check_run(args)
    assert config.size == (96, 72) and not weights  # random weights: described, their arrays made later
