"""Carrying the image, and Adam's moments, from one size up to the next (coarse to fine).

The image is resized in network units, channel by channel in 32-bit float. Adam's first
moment (a signed average gradient) is resized like the image; its second moment (an average
squared gradient, never negative) bilinearly and clipped at 0, since a bicubic kernel's negative
lobes could make it negative (crowsonkb/style-transfer-pytorch does the same)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from .images import resize_array
from .terms import AdamMoments

FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


def resize_nchw(x: np.ndarray, size: tuple[int, int], resample: int = Image.BICUBIC) -> np.ndarray:
    """(1, C, h, w) -> (1, C, H, W)."""
    return resize_array(x[0].transpose(1, 2, 0), size, resample).transpose(2, 0, 1)[None].copy()


def resize_moments(moments: AdamMoments, size: tuple[int, int]) -> AdamMoments:
    m = resize_nchw(moments.m, size)
    v = np.maximum(resize_nchw(moments.v, size, Image.BILINEAR), 0)
    return AdamMoments(moments.step, m, v)
