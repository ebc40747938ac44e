"""The chapter's exercises 1-3 answered with pictures: each variant a run of the project's
``transfer`` in one backend (L-BFGS, a fixed number of evaluations), its picture, and that
picture's losses measured under the default objective, so that variants which optimise different
things can still be compared term by term."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from common.config import LossWeights, Schedule, TransferConfig
from common.defaults import defaults_for
from common.images import to_uint8
from common.registry import load_backend
from common.targets import compute_targets, prepare_inputs
from common.terms import LossTerms
from common.weights import Weights


@dataclass(frozen=True)
class Variant:
    caption: str
    style_layers: str = ""  # names, "" for the network's defaults
    content_layers: str = ""
    scale: tuple[float, float, float] = (1.0, 1.0, 1.0)  # times the default content, style and TV weights
    images: str = "chapter"  # "chapter": the photo and the painting; "rings": another painting; "swapped"


EXERCISES: dict[str, tuple[Variant, ...]] = {
    "style layers": (Variant("style relu1_1, relu2_1 (shallow)", style_layers="relu1_1,relu2_1"),
                     Variant("style relu1_1 ... relu5_1 (default)"),
                     Variant("style relu4_1, relu5_1 (deep)", style_layers="relu4_1,relu5_1")),
    "content layer": (Variant("content relu2_2 (shallow)", content_layers="relu2_2"),
                      Variant("content relu4_2 (default)"),
                      Variant("content relu5_2 (deep)", content_layers="relu5_2")),
    "loss weights": (Variant("default weights"), Variant("content x 10", scale=(10.0, 1.0, 1.0)),
                     Variant("style x 10", scale=(1.0, 10.0, 1.0)), Variant("TV 0", scale=(1.0, 1.0, 0.0)),
                     Variant("TV x 10", scale=(1.0, 1.0, 10.0))),
    "other images": (Variant("the photo, the rings", images="rings"),
                     Variant("the painting, the photo as style", images="swapped")),
}


@dataclass
class Picture:
    variant: Variant
    image: np.ndarray  # (H, W, 3) in [0, 1]
    own: float  # the picture's loss under its own objective
    terms: LossTerms[float]  # its content, style and TV losses under the default objective (unweighted)
    seconds: float


def rings(size: tuple[int, int]) -> np.ndarray:
    """A painting made here (no licence to carry): coloured rings and waves."""
    yy, xx = np.mgrid[0:size[0], 0:size[1]] / max(size)
    r = np.hypot(yy - 0.5, xx - 0.35)
    return np.stack([0.5 + 0.5 * np.sin(40 * r), 0.5 + 0.5 * np.sin(25 * r + 12 * xx),
                     0.5 + 0.5 * np.cos(18 * (xx + yy))], axis=-1).astype(np.float32)


def config_for(variant: Variant, weights: Weights, size: tuple[int, int], steps: int) -> TransferConfig:
    net = weights.network
    defaults = defaults_for(weights.convention.name)
    c, s, t = variant.scale
    return TransferConfig(size=size, network=net.name, optimizer="lbfgs", schedule=Schedule(steps=steps),
                          style_layers=net.parse(variant.style_layers) if variant.style_layers else (),
                          content_layers=net.parse(variant.content_layers) if variant.content_layers else (),
                          loss_weights=LossWeights(defaults.loss_weights.content * c, defaults.loss_weights.style * s,
                                              defaults.loss_weights.tv * t)).validate()


class Painter:
    """One backend on the trained weights, reused for every variant (cut after the deepest layer
    any of them takes: features at a layer do not depend on how much deeper the network runs)."""

    def __init__(self, backend: str, weights: Weights, size: tuple[int, int], steps: int):
        self.weights, self.size, self.steps = weights, size, steps
        self._made: dict[tuple, Picture] = {}  # the default variant recurs in three exercises
        deepest = max(config_for(v, weights, size, steps).last_layer for vs in EXERCISES.values() for v in vs)
        self.backend = load_backend(backend)(weights, last_layer=deepest, device="cpu")

    def paint(self, variant: Variant, photo: np.ndarray, painting: np.ndarray) -> Picture:
        from common.transfer import transfer

        key = (variant.style_layers, variant.content_layers, variant.scale, variant.images)
        if key in self._made:
            return replace(self._made[key], variant=variant)
        content, style = {"chapter": (photo, painting), "rings": (photo, rings(self.size)),
                          "swapped": (painting, photo)}[variant.images]
        config = config_for(variant, self.weights, self.size, self.steps)
        started = time.perf_counter()
        result = transfer(self.backend, content, style, config)
        seconds = time.perf_counter() - started
        default = config_for(Variant(""), self.weights, self.size, self.steps)
        content_k, styles_k = prepare_inputs(content, style, self.size, default)
        _, targets = compute_targets(self.backend, content_k, styles_k, default)
        self.backend.use_targets(targets, LossWeights(1.0, 1.0, 1.0))
        terms, _ = self.backend.evaluate(self.backend.preprocess(result.picture))
        self._made[key] = Picture(variant, result.picture, result.picture_loss.total, terms, seconds)
        return self._made[key]


def sheet(rows: Sequence[tuple[str, Sequence[Picture]]], label: int = 14, banner: str = "") -> Image.Image:
    """A row per backend, a caption under each picture; ``banner`` across the top of each."""
    height, width = rows[0][1][0].image.shape[:2]
    cols = max(len(pictures) for _, pictures in rows)
    grid = Image.new("RGB", (cols * width, len(rows) * (height + label)), "white")
    draw = ImageDraw.Draw(grid)
    for r, (backend, pictures) in enumerate(rows):
        for c, picture in enumerate(pictures):
            tile = Image.fromarray(to_uint8(picture.image))
            if banner:
                from show import banner as with_banner

                tile = with_banner(tile, banner)
            grid.paste(tile, (c * width, r * (height + label)))
            draw.text((c * width + 2, r * (height + label) + height + 1), f"{backend}: {picture.variant.caption}",
                      fill="black")
    return grid


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute pixel difference (0-1) of two (H, W, 3) pictures."""
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


def colour_gap(a: np.ndarray, b: np.ndarray) -> float:
    """How far apart two pictures' mean colours are (RGB, 0-1)."""
    return float(np.linalg.norm(np.asarray(a, np.float64).reshape(-1, 3).mean(0) - np.asarray(b, np.float64).reshape(-1, 3).mean(0)))


def reading(exercise: str, pictures: Sequence[Picture], photo: np.ndarray, painting: np.ndarray) -> str:
    """What one backend's pictures of ``exercise`` show, in sentences built from their numbers:
    which picture is nearest the photo (pixels, content loss) and the painting (mean colour,
    style loss), and whether the chapter's expectation holds here."""
    by = {p.variant.caption: p for p in pictures}

    def best(key, low=True):
        ranked = sorted(pictures, key=key, reverse=not low)
        return ranked[0].variant.caption

    lines = []
    if exercise in ("style layers", "content layer", "loss weights"):
        near_photo = best(lambda p: distance(p.image, photo))
        near_colour = best(lambda p: colour_gap(p.image, painting))
        lowest_style = best(lambda p: p.terms.style)
        lines.append(f"nearest the photo pixel by pixel: **{near_photo}** "
                     f"({distance(by[near_photo].image, photo):.3f}); nearest the painting's mean colour: "
                     f"**{near_colour}** ({colour_gap(by[near_colour].image, painting):.3f}); lowest style loss at "
                     f"the default five layers: **{lowest_style}**")
    if exercise == "style layers":
        shallow, deep = pictures[0], pictures[-1]
        holds = colour_gap(shallow.image, painting) < colour_gap(deep.image, painting)
        lines.append(f"the shallow layers take the painting's colours {'more' if holds else 'less'} closely than the "
                     f"deep ones ({colour_gap(shallow.image, painting):.3f} against {colour_gap(deep.image, painting):.3f})"
                     + ("" if holds else ": not what the chapter's reasoning predicts, at this size and length"))
    if exercise == "content layer":
        shallow, deep = pictures[0], pictures[-1]
        holds = distance(shallow.image, photo) < distance(deep.image, photo)
        lines.append(f"a shallow content layer keeps the photo {'more' if holds else 'less'} closely than a deep one "
                     f"(pixel distance {distance(shallow.image, photo):.3f} against {distance(deep.image, photo):.3f})"
                     + ("" if holds else ": not what the chapter's reasoning predicts, at this size and length"))
    if exercise == "loss weights":
        base = by["default weights"].terms
        for caption, term, word in (("content x 10", "content", "content"), ("style x 10", "style", "style"),
                                    ("TV x 10", "tv", "total-variation")):
            value = getattr(by[caption].terms, term)
            lines.append(f"{caption}: {word} loss {value:.4g} against {getattr(base, term):.4g} with the default "
                         f"weights ({'lower, as expected' if value < getattr(base, term) else 'not lower'})")
    if exercise == "other images":
        lines.append("; ".join(f"{p.variant.caption}: content {p.terms.content:.4g}, style {p.terms.style:.4g}"
                               for p in pictures))
    return "; ".join(lines)
