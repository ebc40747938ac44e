"""How the chapter's PyTorch tab reads and resizes an image, reproduced exactly for
``scripts/compare.py --recipe d2l``: PIL decode, then ``torchvision.transforms.Resize((h, w))``
on the PIL image — Pillow's bilinear filter with antialiasing, height first (the same pixels as
``common/images.py``, which a test shows)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torchvision
from PIL import Image


def read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    with Image.open(path) as img:
        img = torchvision.transforms.Resize(size)(img.convert("RGB"))
        return np.asarray(img, dtype=np.float32) / 255.0
