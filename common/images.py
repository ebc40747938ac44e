"""Images as arrays, the same for both backends: resizing with Pillow's bilinear filter (what
torchvision's ``Resize`` does to a PIL image; the chapter's MXNet tab resizes with OpenCV's,
without antialiasing, which differs by up to 135/255 per pixel on the sample photo), fitting a
long edge, and 8-bit conversion. No files: reading and writing them is the tooling's
(``common/tools/io/pictures.py``)."""
from __future__ import annotations

import numpy as np
from PIL import Image


def image_size(image: np.ndarray) -> tuple[int, int]:
    """(height, width) of an (H, W, C) image."""
    return int(image.shape[0]), int(image.shape[1])


def resize_array(image: np.ndarray, size: tuple[int, int], resample: int = Image.BILINEAR) -> np.ndarray:
    """(H, W, C) uint8 or float -> (height, width, C) float32; uint8 in [0, 255] becomes [0, 1].

    uint8 images are resized as 8-bit RGB, exactly as a decoded file (what torchvision's Resize
    does to a PIL image); float images channel by channel in 32-bit float, so nothing is rounded."""
    height, width = size
    if image.dtype == np.uint8:
        img = Image.fromarray(image, "RGB")
        if img.size != (width, height):
            img = img.resize((width, height), resample)  # Pillow takes (width, height)
        return np.asarray(img, dtype=np.float32) / 255.0
    if image_size(image) == tuple(size):
        return np.asarray(image, dtype=np.float32)
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., c], dtype=np.float32), "F")
                           .resize((width, height), resample)) for c in range(image.shape[2])]
    return np.stack(channels, axis=-1).astype(np.float32)


def fit_long_edge(size: tuple[int, int], long_edge: float) -> tuple[int, int]:
    """(height, width) with the longer side ``long_edge`` and ``size``'s aspect ratio."""
    height, width = size
    scale = long_edge / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats -> 8-bit, rounded to the nearest level."""
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
