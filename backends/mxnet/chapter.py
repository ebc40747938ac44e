"""How the chapter's MXNet tab reads and resizes an image, reproduced exactly for
``scripts/compare.py --recipe d2l``: OpenCV decode (``mx.image.imread``), then
``mx.image.imresize(img, width, height)`` — OpenCV bilinear, no antialiasing, width first."""
from __future__ import annotations

from pathlib import Path

import mxnet as mx
import numpy as np

def read_image(path: Path, size: tuple[int, int]) -> np.ndarray:
    height, width = size
    img = mx.image.imread(str(path))  # uint8 HWC RGB
    img = mx.image.imresize(img, width, height, interp=1)  # interp=1: bilinear; width before height
    return img.asnumpy().astype(np.float32) / 255.0
