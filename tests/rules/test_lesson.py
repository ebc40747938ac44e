"""The lesson notebook: its built .ipynb is its text source's, and it runs from top to bottom
in a fresh kernel at a small size, both frameworks, answering the exercises (the notebook
asserts its own parity numbers and readings, so a wrong number fails here)."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image

from lesson import run

from ..conftest import require, require_module, synthetic_image


def _cells(notebook) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source) for cell in notebook.cells]


def test_the_built_notebook_is_its_text_source():
    require_module("jupytext")
    import nbformat

    built = nbformat.read(run.BUILT, as_version=4)
    assert _cells(built) == _cells(run.build()), "run `python lesson/run.py --build-only` after editing the source"
    assert not any(cell.get("outputs") for cell in built.cells)  # outputs belong to executed copies only


def test_the_lesson_runs_and_answers_the_exercises(tmp_path):
    require("mxnet")
    require("torch")
    require_module("nbclient")
    require_module("ipykernel")
    for name, seed in (("photo.png", 1), ("painting.png", 2)):
        Image.fromarray((synthetic_image(seed, (96, 128), noise=0.0) * 255).astype(np.uint8)).save(tmp_path / name)
    settings = {"LESSON_SIZE": "48x64", "LESSON_STEPS": "4", "LESSON_LOOP_STEPS": "3",
                "LESSON_CONTENT": str(tmp_path / "photo.png"), "LESSON_STYLE": str(tmp_path / "painting.png")}
    if os.environ.get("STYLE_TRANSFER_TEST_WEIGHTS"):
        settings["LESSON_WEIGHTS"] = os.environ["STYLE_TRANSFER_TEST_WEIGHTS"]
    notebook = run.execute(settings, timeout=300)
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    grids = [out for out in outputs if "image/jpeg" in out.get("data", {})]
    assert len(grids) == 4  # one per exercise: style layers, content layer, loss weights, other images
    text = "".join(out.get("text", "") for out in outputs)
    assert "total loss of the noisy photo" in text
