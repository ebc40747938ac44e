"""Every number the algorithm uses, with the chapter's defaults, validated in one place.

Sizes are (height, width) everywhere in this project.
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields, replace
from typing import Any, Mapping

from .errors import ConfigError
from .layers import NETWORKS, Network

MAX_STYLE_SCALE = 4.0  # a style 4x the content's long edge already costs 16x its memory

MIN_SIDE = 32  # below this, relu5_1 (after four 2x2 pools) would have under 2x2 positions

# Far beyond any size that fits in memory (the memory check refuses long before: 16384 x 16384
# already needs hundreds of GiB), but it keeps absurd numbers from overflowing the arithmetic
# of sizes and estimates before that check can name the largest size that fits.
MAX_SIDE = 2**16

# Coarse to fine: the smallest size at most 1024 times smaller than the result. 32 x 1024 pixels
# is beyond MAX_SIDE's memory, so any further size would be MIN_SIDE again, repeated.
MAX_SHRINK = 1024


@dataclass(frozen=True)
class LossWeights:
    """Multipliers of the three terms. The chapter writes style weight 1e3 and then sums
    ``10 * styles_l``, which repeats the Python list ten times: the effective weight is 1e4.
    These are for torchvision's input convention; ``common.defaults.defaults_for`` gives each one's."""

    content: float = 1.0
    style: float = 1e4
    tv: float = 10.0


@dataclass(frozen=True)
class AdamSettings:
    """Adam's constants. ``align_epsilon`` makes a backend whose native Adam adds epsilon to
    the uncorrected sqrt(v) (MXNet) rescale it each step so that both frameworks compute
    m_hat / (sqrt(v_hat) + eps), Kingma & Ba's Algorithm 1 and PyTorch's form."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    align_epsilon: bool = False


@dataclass(frozen=True)
class Schedule:
    """Step decay: lr * factor ** (step // every) for 0-based steps, i.e. the new rate
    applies from the update after every ``every`` updates (updates 51, 101, ... 1-based)."""

    steps: int = 500
    lr: float = 0.3
    decay_every: int = 50
    decay_factor: float = 0.8

    def lr_at(self, step: int, start: float | None = None) -> float:
        """The rate of 0-based update ``step`` at one size, decaying from ``start`` (the schedule's
        own rate unless a coarse-to-fine size starts elsewhere)."""
        return (self.lr if start is None else start) * self.decay_factor ** (step // self.decay_every)


# The values each choice may take: the command line offers exactly these, validate() refuses any other.
OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise", "style")
COLOR_MODES = ("none", "luminance", "histogram")
MOMENTS = ("reset", "resize")
UPSAMPLING = ("bicubic", "bilinear")
STYLE_FITS = ("keep", "stretch")


@dataclass(frozen=True)
class Scales:
    """Coarse to fine: ``count`` sizes, each ``factor`` times the one before, the last the final
    size. Every size before the last runs ``steps`` steps; Adam starts each of them at ``lr``
    (the first size at the schedule's own rate) and carries its moments up or resets them."""

    # Measured (docs/quality.md, "Coarse to fine"): factor 2 beat sqrt(2) with one more size, 50 steps per
    # smaller size did as well as 100, lr 0.05 beat 0.1 and 0.3, and resetting Adam's moments beat
    # resizing them (7.4x vs 5.8x the chapter's speed to its picture loss at 150x225).
    count: int = 1  # 1: the chapter, one size
    factor: float = 2.0
    steps: int = 50
    lr: float = 0.05
    moments: str = "reset"
    upsample: str = "bicubic"  # the filter that carries the image up (bilinear measured a little worse)

    def sizes(self, final: tuple[int, int]) -> list[tuple[int, int]]:
        """From the smallest to ``final``; (height, width), aspect ratio kept, none under MIN_SIDE."""
        height, width = final
        sizes = []
        for k in reversed(range(self.count)):
            shrink = self.factor ** k
            sizes.append((max(MIN_SIDE, round(height / shrink)), max(MIN_SIDE, round(width / shrink))))
        return sizes


@dataclass(frozen=True)
class Plateau:
    """Stop a size once its loss has improved by less than ``fraction`` of itself over the last
    ``window`` steps there (for L-BFGS, the best loss so far): the picture has stopped changing
    much, and the steps left would buy little. ``window`` 0: every step runs, as the chapter's do."""

    window: int = 0
    fraction: float = 0.01

    def describe(self) -> str:
        return f"stop a size when its loss improves less than {100 * self.fraction:g} % in {self.window} steps"


@dataclass(frozen=True)
class TransferConfig:
    size: tuple[int, int] = (300, 450)  # (height, width) of the result
    network: str = "vgg19"  # "vgg16": VGG-16's 13 convolutions instead of VGG-19's 16
    content_layers: tuple[int, ...] = ()  # indices in the network's features; () = its defaults
    style_layers: tuple[int, ...] = ()
    loss_weights: LossWeights = field(default_factory=LossWeights)
    schedule: Schedule = field(default_factory=Schedule)  # with lbfgs: steps = loss-and-gradient evaluations
    adam: AdamSettings = field(default_factory=AdamSettings)
    optimizer: str = "adam"  # "lbfgs": SciPy's L-BFGS-B, pixels kept inside [0, 1]
    bounded: bool = False  # Adam: clip the image into [0, 1] after every update
    init: str = "content"  # the first size starts from the content image, seeded noise, or the (first) style
    seed: int = 0  # of init "noise"
    scales: Scales = field(default_factory=Scales)
    plateau: Plateau = field(default_factory=Plateau)
    style_scale: float = 1.0  # each style's long edge = style_scale x the content's, its aspect ratio kept
    style_fit: str = "keep"  # "stretch": each style resized to the content's height and width, as the chapter does
    style_blend: tuple[float, ...] = ()  # one share per style, normalised to sum 1; () = equal
    colors: str = "none"  # "luminance" or "histogram": keep the content's colours

    def __post_init__(self) -> None:
        net = NETWORKS.get(self.network)
        if net is not None:  # an unknown network is validate()'s to refuse
            object.__setattr__(self, "content_layers", tuple(self.content_layers) or net.default_content_layers)
            object.__setattr__(self, "style_layers", tuple(self.style_layers) or net.default_style_layers)

    @property
    def net(self) -> Network:
        return NETWORKS[self.network]

    @property
    def layers(self) -> tuple[int, ...]:
        """Every layer whose features are taken, in network order."""
        return tuple(sorted(set(self.content_layers) | set(self.style_layers)))

    @property
    def last_layer(self) -> int:
        """The network is cut after this layer: nothing deeper is ever run."""
        return max(self.layers)

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> "TransferConfig":
        """A configuration from values by field path (``"schedule.steps"``, ``"size"``), each part
        made once; a field not named keeps its default. Not validated: call :meth:`validate`."""
        top, parts = _by_part(values)
        return cls(**top, **{head: _PARTS[head](**given) for head, given in parts.items()})

    def with_fields(self, values: Mapping[str, Any]) -> "TransferConfig":
        """A copy with the fields at these paths changed (what a recipe does to a configuration)."""
        top, parts = _by_part(values)
        return replace(self, **top, **{head: replace(getattr(self, head), **given) for head, given in parts.items()})

    def validate(self) -> "TransferConfig":
        """Self, or a ConfigError naming the first field out of range (``schedule.steps``, ...)."""
        check_size(self.size)
        if self.network not in NETWORKS:
            raise ConfigError("network", f"must be one of {', '.join(NETWORKS)}, not {self.network}")
        for name in ("content_layers", "style_layers"):
            outside = [i for i in getattr(self, name) if not 0 <= i < self.net.size]
            if outside:
                raise ConfigError(name, f"index {outside[0]} is outside {self.net.title}'s features "
                                        f"(0 to {self.net.size - 1})")
        s = self.schedule
        _whole("schedule.steps", s.steps)
        _positive("schedule.lr", s.lr)
        _whole("schedule.decay_every", s.decay_every)
        if not math.isfinite(s.decay_factor) or not 0 < s.decay_factor <= 1:
            raise ConfigError("schedule.decay_factor", f"must be in (0, 1]: the rate decays, not {s.decay_factor}")
        for name in ("content", "style", "tv"):
            value = getattr(self.loss_weights, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"loss_weights.{name}", f"must be a finite number >= 0, not {value}")
        if self.loss_weights.content == self.loss_weights.style == self.loss_weights.tv == 0:
            raise ConfigError("loss_weights", "are all 0: there would be nothing to optimise")
        for name, allowed in (("optimizer", OPTIMIZERS), ("init", INITS), ("colors", COLOR_MODES),
                              ("scales.moments", MOMENTS), ("scales.upsample", UPSAMPLING), ("style_fit", STYLE_FITS)):
            value = getattr(self.scales, name.split(".")[1]) if "." in name else getattr(self, name)
            if value not in allowed:
                raise ConfigError(name, f"must be one of {', '.join(allowed)}, not {value}")
        c = self.scales
        _whole("scales.count", c.count)
        if not math.isfinite(c.factor) or c.factor <= 1:
            raise ConfigError("scales.factor", f"must be a finite number > 1, not {c.factor}")
        most = 1 + math.floor(math.log(MAX_SHRINK) / math.log(c.factor) + 1e-9)  # logs: no overflow
        if c.count > most:
            raise ConfigError("scales.count", f"{c.count} with scales.factor {c.factor:g}: the smallest size would "
                                              f"be {c.factor:g}^{c.count - 1} times smaller than the result, more than "
                                              f"the {MAX_SHRINK} allowed (sizes beyond it are all {MIN_SIDE} pixels): "
                                              f"use at most {most} scale{'s' if most > 1 else ''}")
        _whole("scales.steps", c.steps)
        _positive("scales.lr", c.lr)
        if self.plateau.window < 0 or self.plateau.window != int(self.plateau.window):
            raise ConfigError("plateau.window", f"must be a whole number >= 0 (0: off), not {self.plateau.window}")
        if not (math.isfinite(self.plateau.fraction) and 0 < self.plateau.fraction < 1):
            raise ConfigError("plateau.fraction", f"must be a number between 0 and 1, not {self.plateau.fraction}")
        if not math.isfinite(self.style_scale) or not 0 < self.style_scale <= MAX_STYLE_SCALE:
            raise ConfigError("style_scale", f"must be in (0, {MAX_STYLE_SCALE:g}], not {self.style_scale}")
        blend = self.style_blend
        # The sum too must be finite: blend() divides by it, and 1e308 + 1e308 would make every share 0.
        if blend and not (all(math.isfinite(w) and w >= 0 for w in blend) and 0 < sum(blend) < math.inf):
            raise ConfigError("style_blend", f"shares must be finite, >= 0, not all 0 and with a finite sum, "
                                             f"not {list(self.style_blend)}")
        if self.seed < 0:
            raise ConfigError("seed", f"must be a whole number >= 0, not {self.seed}")
        return self

    def steps_at(self, size_index: int) -> int:
        """Steps at the 1-based size index: the schedule's at the last, ``scales.steps`` before it."""
        return self.schedule.steps if size_index == self.scales.count else self.scales.steps

    def lr_at(self, size_index: int) -> float:
        """Adam's starting rate at the 1-based size index: the schedule's at the first, ``scales.lr`` after."""
        return self.schedule.lr if size_index == 1 else self.scales.lr

    @property
    def total_steps(self) -> int:
        """Steps over every size: Adam updates, or L-BFGS evaluations."""
        return self.scales.steps * (self.scales.count - 1) + self.schedule.steps

    def blend(self, styles: int) -> tuple[float, ...]:
        """The share of each of ``styles`` style images in the style loss, summing to 1."""
        if not self.style_blend:
            return (1.0 / styles,) * styles
        if len(self.style_blend) != styles:
            raise ConfigError("style_blend", f"has {len(self.style_blend)} shares for {styles} style images")
        total = sum(self.style_blend)
        return tuple(w / total for w in self.style_blend)

    def sizes_text(self) -> str:
        """Every size the run goes through, e.g. ``150x225 -> 300x450``."""
        return " -> ".join(f"{h}x{w}" for h, w in self.scales.sizes(self.size))

    def describe(self) -> str:
        sizes = self.sizes_text()
        extras = [f"{self.optimizer}" + (", bounded" if self.bounded and self.optimizer == "adam" else ""),
                  f"init {self.init}"] + ([f"colors {self.colors}"] if self.colors != "none" else [])
        return (f"{sizes}, {self.net.title}, content {self.net.describe(self.content_layers)}, "
                f"style {self.net.describe(self.style_layers)}, "
                f"loss weights {self.loss_weights.content:g}/{self.loss_weights.style:g}/{self.loss_weights.tv:g}, "
                f"{self.schedule.steps} steps, lr {self.schedule.lr:g}, " + ", ".join(extras)
                + (f"; {self.plateau.describe()}" if self.plateau.window else ""))


# The parts of a configuration by field name (Schedule for "schedule", ...), for from_fields.
_PARTS = {f.name: f.default_factory for f in fields(TransferConfig) if f.default_factory is not MISSING}


def _by_part(values: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Field paths split into the configuration's own fields and each part's (``schedule.steps``)."""
    top: dict[str, Any] = {}
    parts: dict[str, dict[str, Any]] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        if rest:
            parts.setdefault(head, {})[rest] = value
        else:
            top[head] = value
    return top, parts


def check_size(size: tuple[int, int]) -> None:
    """A picture size (height, width) a run can have: both sides from MIN_SIDE to MAX_SIDE pixels."""
    height, width = size
    if min(height, width) < MIN_SIDE:
        raise ConfigError("size", f"{height}x{width} is too small: both sides must be at least {MIN_SIDE} pixels")
    if max(height, width) > MAX_SIDE:
        raise ConfigError("size", f"{height}x{width} is too large: no side may exceed {MAX_SIDE} pixels")


def _positive(field: str, value: float) -> None:
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(field, f"must be a finite number > 0, not {value}")


def _whole(field: str, value: int) -> None:
    if value < 1:
        raise ConfigError(field, f"must be a positive whole number, not {value}")
