"""scripts/compare.py writes a complete, self-contained report for both recipes."""
from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from common.tools.compare import measure
from common.tools.compare.tabs import TAB_DIFFERENCES

from ..conftest import require, synthetic_image

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    require("torch")
    require("mxnet")
    folder = tmp_path_factory.mktemp("compare")
    for name, seed in (("content.png", 1), ("style.png", 2)):
        Image.fromarray((synthetic_image(seed, (60, 80)) * 255).astype(np.uint8)).save(folder / name)
    return folder


def run_compare(folder: Path, *extra) -> tuple[subprocess.CompletedProcess, Path]:
    """compare.py's main in this process (both frameworks are loaded already), output captured."""
    from common.tools.compare.main import main

    report = folder / f"report-{'-'.join(extra) or 'project'}"
    args = ["--content", str(folder / "content.png"), "--style", str(folder / "style.png"), "--size", "32", "48",
            "--steps", "4", "--weights", "random", "--device", "cpu", "--timing-steps", "1", "--report", str(report),
            *extra]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(args)
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue()), report


def test_project_report(inputs):
    proc, report = run_compare(inputs)
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((report / "numbers.json").read_text())
    stages = {row["stage"]: row for row in numbers["stages"]}
    assert stages["preprocess (content image)"]["max_abs"] == 0
    assert all(row["max_rel"] < 1e-5 for name, row in stages.items() if "Adam" not in name)
    native = stages["one Adam step, native epsilon (update of the image)"]["max_rel"]
    aligned = stages["one Adam step, aligned epsilon (update of the image)"]["max_rel"]
    assert aligned < native / 10  # the epsilon placement is the difference, and alignment removes it
    assert set(numbers["trajectories"]) == {"native", "aligned"}
    assert len(numbers["trajectories"]["native"]["mxnet"]["totals"]) == 4
    assert set(numbers["seconds_per_stage"]["torch"]) == {"forward", "backward", "update", "step"}
    assert "oneDNN (CPU convolutions)" in numbers["environment"]["mxnet"]
    html = (report / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 4  # curves, two outputs, heat map: all embedded
    assert not re.search(r'src="(?!data:)', html)  # nothing outside the one file
    md = (report / "report.md").read_text()
    for section in ("Stage by stage", "Training trajectories", "Pictures", "Time per stage", "Environment"):
        assert f"## {section}" in md


def test_d2l_report_has_the_ablation(inputs):
    proc, report = run_compare(inputs, "--tabs")
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((report / "numbers.json").read_text())
    rows = {row["removed"]: row for row in numbers["ablation"]}
    assert set(rows) == {"nothing (the chapter as written)", *TAB_DIFFERENCES, "all five"}
    as_written, all_removed = rows["nothing (the chapter as written)"], rows["all five"]
    # removing every difference (recipes.without) makes the MXNet tab compute what the PyTorch tab does
    # the chapter's tabs compute different losses from the first step; removing every difference
    # leaves only rounding between the frameworks
    assert abs(as_written["step1"]["mxnet"]["total"] / as_written["step1"]["torch"]["total"] - 1) > 0.1
    assert all_removed["step1"]["mxnet"]["total"] == pytest.approx(all_removed["step1"]["torch"]["total"], rel=1e-5)
    assert all_removed["psnr"] > as_written["psnr"] + 10
    assert "same setting" in rows["pretrained weights (Gluon zoo vs torchvision)"]["note"]  # --weights random


def test_the_report_takes_the_picture_options(inputs):
    proc, report = run_compare(inputs, "--scales", "2", "--scale-steps", "2", "--optimizer", "lbfgs",
                               "--preserve-colors", "histogram", "--size", "64")
    assert proc.returncode == 0, proc.stderr
    numbers = json.loads((report / "numbers.json").read_text())
    assert len(numbers["trajectories"]["native"]["torch"]["totals"]) == 6  # 2 + 4 evaluations
    assert all(row["max_rel"] < 1e-5 for row in numbers["stages"] if "Adam" not in row["stage"])


def test_bad_report_folder_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare.py"), "--report", str(tmp_path / "file"),
                           "--weights", "random"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "is a file" in proc.stderr


def test_psnr_and_difference():
    a = np.zeros((4, 4, 3))
    assert measure.psnr(a, a) == float("inf")
    assert measure.psnr(a, a + 0.1) == pytest.approx(20.0)
    assert measure.difference(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == (2.0, 0.5)
    np.testing.assert_allclose(measure.relative_gap([1.0, 3.0, 5.0], [2.0, 2.0]), [0.5, 0.5])


def test_one_step_is_enough_for_a_report(inputs):
    """--steps 1 once ended in an IndexError while laying out the gap at steps 1, 2 and 10."""
    proc, report = run_compare(inputs, "--steps", "1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((report / "numbers.json").read_text())["settings"]["steps"] == 1


def test_d2l_without_the_gluon_weights_is_one_line_before_any_training(inputs, tmp_path, monkeypatch):
    """Once: a skipped row, every run trained, then a KeyError. Now refused before the work."""
    from common.weights import random_weights
    from common.tools.io.weights import save_npz

    save_npz(random_weights(0, 36), tmp_path / "vgg19-imagenet1k-v1.npz")  # torchvision's, already cached
    for name, value in {"STYLE_TRANSFER_CACHE": str(tmp_path), "https_proxy": "http://127.0.0.1:9",
                        "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "MXNET_HOME": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    proc, _ = run_compare(inputs, "--recipe", "d2l", "--weights", "imagenet", "--steps", "2")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "mxnet tab's cannot be had" in lines[0] and "training" not in proc.stderr
