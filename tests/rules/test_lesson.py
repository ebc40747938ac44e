"""The lesson notebook: the committed, executed lesson/style_transfer.ipynb is its text source's
(the same cells) and re-executing those cells at a small size gives the same structure (the
same kinds of output in every cell, so the committed outputs are what the source makes); it runs
from top to bottom in both frameworks (the notebook asserts its own parity numbers); it renders
(JPEG pictures, a size GitHub shows); lesson/run.py defaults to the chapter's network and fails
offline in one line."""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lesson import run

from ..conftest import require, require_module, synthetic_image

MAX_KB = 1500  # what GitHub's notebook viewer shows without trouble


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def _committed():
    import nbformat

    return nbformat.read(run.BUILT, as_version=4)


def structure(notebook) -> list[list[tuple[str, ...]]]:
    """Per code cell, the kind of each output: its type and, for rich ones, its formats. Printed
    text counts once between rich outputs: how the kernel splits it into stream outputs depends on
    when stdout and stderr were flushed, not on the source."""
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kinds: list[tuple[str, ...]] = []
        for out in cell.outputs:
            kind = (out.output_type, *sorted(out.get("data", {})))
            if not (kind == ("stream",) and kinds and kinds[-1] == kind):
                kinds.append(kind)
        cells.append(kinds)
    return cells


def rendered_problems(notebook) -> list[str]:
    """Why the committed notebook would not show a learner its results."""
    problems = []
    codes = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if any(cell.execution_count is None for cell in codes):
        problems.append("cells not executed")
    outputs = [out for cell in codes for out in cell.outputs]
    if any(out.output_type == "error" for out in outputs):
        problems.append("an error output")
    if sum("image/jpeg" in out.get("data", {}) for out in outputs) < 5:
        problems.append("fewer than 5 pictures (the loops' and the four exercises')")
    if any("image/png" in out.get("data", {}) for out in outputs):
        problems.append("a PNG output (JPEG keeps the notebook small)")
    if run.BUILT.stat().st_size > MAX_KB * 1024:
        problems.append(f"larger than {MAX_KB} KB")
    return problems


def test_the_committed_notebook_is_its_text_source_executed():
    require_module("jupytext")
    committed = _committed()
    assert _cells(committed) == _cells(run.build()), \
        "the text source changed: run `python lesson/run.py --weights FILE` to remake the committed notebook"
    assert not rendered_problems(committed)


def test_the_render_check_fails_on_a_notebook_without_outputs():
    require_module("jupytext")
    bare = run.build()  # the source, never executed: what the committed notebook used to be
    assert "cells not executed" in rendered_problems(bare)


def test_the_lesson_runs_and_makes_the_committed_structure(tmp_path):
    require("mxnet")
    require("torch")
    require_module("nbclient")
    require_module("ipykernel")
    for name, seed in (("photo.png", 1), ("painting.png", 2)):
        Image.fromarray((synthetic_image(seed, (96, 128), noise=0.0) * 255).astype(np.uint8)).save(tmp_path / name)
    settings = {"LESSON_SIZE": "48x64", "LESSON_STEPS": "4", "LESSON_LOOP_STEPS": "3",
                "LESSON_CONTENT": str(tmp_path / "photo.png"), "LESSON_STYLE": str(tmp_path / "painting.png"),
                "LESSON_WEIGHTS": os.environ.get("STYLE_TRANSFER_TEST_WEIGHTS") or "random"}
    notebook = run.execute(settings, timeout=300)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    text = "".join(out.get("text", "") + "".join(str(v) for v in out.get("data", {}).values()) for out in outputs)
    for expected in ("total loss of the noisy photo", "What the mxnet pictures show", "What the torch pictures show",
                     "checked: the answer", "ReLU output: overwritten in place"):
        assert expected in text
    if settings["LESSON_WEIGHTS"] == "random":
        assert "RANDOM WEIGHTS" in text
    assert structure(notebook) == structure(_committed()), \
        "the committed notebook's outputs are not what its source makes: remake it with lesson/run.py"


def _main(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = run.main(list(args))
    return status, err.getvalue()


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No network (a proxy that refuses), an empty cache and an empty torch hub."""
    for key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def test_run_defaults_to_the_chapter_s_network_and_says_offline_what_to_pass(offline):
    require("torch")
    require_module("nbclient")
    photo = offline / "photo.png"
    Image.fromarray((synthetic_image(1, (48, 64)) * 255).astype(np.uint8)).save(photo)
    assert run.build_parser().parse_args([]).weights == "imagenet"
    status, err = _main("--content", str(photo), "--style", str(photo), "--out", str(offline / "out.ipynb"))
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "VGG-19" in err and "--weights" in err  # what is missing, and what to pass
    assert not (offline / "out.ipynb").exists()


def test_run_without_the_photos_offline_is_one_line(offline):
    require_module("nbclient")
    status, err = _main("--weights", "random", "--out", str(offline / "out.ipynb"))
    assert status == 2 and len(err.strip().splitlines()) == 1, err
    assert "--content" in err


def test_imagenet_is_the_chapter_s_vgg19_from_torch_hub(offline):
    """The default path, offline: a seeded VGG-19 state_dict where torchvision's loader keeps the
    ImageNet weights is what --weights imagenet reads."""
    require("torch")
    import torch
    import torchvision

    torch.manual_seed(0)
    hub = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    state = torchvision.models.vgg19(weights=None).state_dict()
    torch.save(state, hub / "vgg19-dcbb9e9d.pth")
    photo = offline / "photo.png"
    Image.fromarray((synthetic_image(1, (48, 64)) * 255).astype(np.uint8)).save(photo)
    args = run.build_parser().parse_args(["--content", str(photo), "--style", str(photo)])
    settings = run.resolve(args)
    assert settings["LESSON_WEIGHTS"] == "imagenet"
    from common.tools.io.weights import load_weights

    weights = load_weights("imagenet")
    assert weights.network.name == "vgg19"
    np.testing.assert_array_equal(weights["features.0.weight"], state["features.0.weight"].numpy())
