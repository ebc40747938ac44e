"""scripts/pictures.py at a tiny size: every variant in both backends, the sheet, the credits."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from common.tools.gallery.main import VARIANTS, main
from common.weights import random_weights

from ..conftest import require, synthetic_image


def test_the_pictures_script_makes_every_variant_in_both_backends(tmp_path, capsys):
    require("torch")
    require("mxnet")
    from common.layers import VGG16
    from common.tools.io.weights import save_npz

    for name, seed in (("content.png", 1), ("style.png", 2)):
        Image.fromarray((synthetic_image(seed, (48, 64)) * 255).astype(np.uint8)).save(tmp_path / name)
    weights = save_npz(random_weights(0, network=VGG16), tmp_path / "vgg16.npz")
    out = tmp_path / "pictures"
    status = main(["--weights", str(weights), "--content", str(tmp_path / "content.png"),
                   "--style", str(tmp_path / "style.png"), "--size", "32", "48", "--out", str(out), "--quick", "50"])
    assert status == 0, capsys.readouterr().err
    for backend in ("torch", "mxnet"):
        for variant in VARIANTS:
            assert Image.open(out / f"{variant.name}-{backend}.jpg").size == (48, 32)
    assert Image.open(out / "sheet.jpg").size == (48 * len(VARIANTS), 3 * (32 + 16))
    made = json.loads((out / "pictures.json").read_text())
    assert len(made) == 2 * len(VARIANTS) and "steps" in made["torch/fast"]["summary"]
    credits = (out / "CREDITS.md").read_text()
    assert "CC BY-SA 4.0" in credits and "Dive into Deep Learning" in credits
