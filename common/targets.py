"""What each size of a run pulls towards: the inputs resized and colour-prepared for it, the
content features and style Gram matrices taken from them once, and the image the first size
starts from."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from . import colors
from .config import TransferConfig
from .images import fit_long_edge, image_size, resize_array
from .interface import StyleBackend
from .terms import Targets

Images = Union[np.ndarray, Sequence[np.ndarray]]


def as_list(images: Images) -> list[np.ndarray]:
    return [images] if isinstance(images, np.ndarray) else list(images)


def style_size(style: np.ndarray, content_size: tuple[int, int], config: TransferConfig) -> tuple[int, int]:
    """A style image keeps its aspect ratio, its long edge ``style_scale`` x the content's; or,
    stretched as the chapter does, it takes the content's height and width."""
    if config.style_fit == "stretch":
        return content_size
    height, width = fit_long_edge(image_size(style), config.style_scale * max(content_size))
    return max(height, 16), max(width, 16)  # relu5_1 needs a 1x1 map after four 2x2 pools


def prepare_inputs(content: np.ndarray, styles: Images, size: tuple[int, int],
                   config: TransferConfig) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content at ``size`` and each style at its own size, colour-prepared as configured."""
    content_k = resize_array(content, size)
    styles_k = [resize_array(s, style_size(s, size, config)) for s in as_list(styles)]
    return colors.recolor_inputs(content_k, styles_k, config.colors)


def compute_targets(backend: StyleBackend, content: np.ndarray, style: Images,
                    config: TransferConfig) -> tuple[np.ndarray, Targets]:
    """Preprocess the images once; content features and the style Gram matrices, blended over
    several styles as sum_i w_i G_i per layer, are the fixed targets."""
    styles = as_list(style)
    content_x = backend.preprocess(content)
    content_features = backend.extract_features(content_x, config.content_layers)
    grams: dict[int, np.ndarray] = {}
    for share, image in zip(config.blend(len(styles)), styles):
        for index, y in zip(config.style_layers, backend.extract_features(backend.preprocess(image), config.style_layers)):
            gram = share * backend.gram(y)  # one style: share 1.0, so exactly its Gram matrix
            grams[index] = grams[index] + gram if index in grams else gram
    return content_x, Targets(content=dict(zip(config.content_layers, content_features)), grams=grams)


def start_image(backend: StyleBackend, content_x: np.ndarray, styles: list[np.ndarray],
                config: TransferConfig) -> np.ndarray:
    """The image the first size starts from: the content, seeded uniform noise, or the first style."""
    if config.init == "content":
        return content_x
    height, width = content_x.shape[2:]
    if config.init == "noise":
        return backend.preprocess(np.random.default_rng(config.seed).random((height, width, 3), dtype=np.float32))
    return backend.preprocess(resize_array(styles[0], (height, width)))
