"""Command-line pieces shared by the scripts: the options that describe a style-transfer run;
the one mapping between them and the configuration (``FIELDS``: :func:`config_from` builds a
configuration from options, :func:`in_flags` says a configuration's errors in options,
:func:`recipe_fields` says a recipe's options as fields); the ranges of the options that set no
field of it (:class:`Limit`); a help layout that shows each default once, as it would be typed;
and the rule that bad input is one line and exit status 2.

Where each rule lives: whether a word is a number, a known layer or one of the choices, argparse
(the types and choices here); every rule about a configuration field, ``TransferConfig.validate``
(and ``blend``, for the number of styles); every other option's range, a :class:`Limit` table of
``preflight.py``, which also holds the rules between such options."""
from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from common.config import (COLOR_MODES, INITS, MAX_SIDE, MIN_SIDE, MOMENTS, OPTIMIZERS, STYLE_FITS, UPSAMPLING,
                           TransferConfig)
from common.defaults import defaults_for
from common.execution import Execution
from common.errors import ConfigError, UserError
from common.images import fit_long_edge
from common.conventions import CONVENTIONS
from common.layers import NETWORKS, VGG16, VGG19, Network, network
from common.weights import Weights

from .parsing import real, whole
from .recipes import RUN_RECIPES

# The one mapping between options and the configuration: each option (by its argparse name) that
# sets a field of TransferConfig, and the field (by its path) it sets.
FIELDS: dict[str, str] = {
    "size": "size", "network": "network", "content_layers": "content_layers", "style_layers": "style_layers",
    "content_weight": "loss_weights.content", "style_weight": "loss_weights.style", "tv_weight": "loss_weights.tv",
    "steps": "schedule.steps", "lr": "schedule.lr", "lr_decay_every": "schedule.decay_every",
    "lr_decay_factor": "schedule.decay_factor", "align_adam_epsilon": "adam.align_epsilon",
    "optimizer": "optimizer", "bounded": "bounded", "init": "init", "seed": "seed",
    "scales": "scales.count", "scale_factor": "scales.factor", "scale_steps": "scales.steps", "scale_lr": "scales.lr",
    "scale_moments": "scales.moments", "scale_filter": "scales.upsample", "style_scale": "style_scale",
    "plateau_window": "plateau.window", "plateau_fraction": "plateau.fraction",
    "style_fit": "style_fit", "style_blend": "style_blend", "preserve_colors": "colors",
}


def flag_of(dest: str) -> str:
    """An option's flag from its argparse name: ``lr_decay_every`` is ``--lr-decay-every``."""
    return "--" + dest.replace("_", "-")


# The option that sets each field, for errors the core words in field names: "schedule.steps must
# be a positive whole number" is "--steps must be ..."; also the fields set by other options than
# their own (Execution's precision, the weights' convention) and the loss weights together.
FLAGS: dict[str, str] = {**{field: flag_of(dest) for dest, field in FIELDS.items()},
                         "loss_weights": "--content-weight, --style-weight and --tv-weight", "precision": "--precision",
                         "convention": "--weights-convention"}
# Inside a message only names no English word could be (dotted or with an underscore) are replaced.
_FIELD = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(f) for f in sorted(FLAGS, key=len, reverse=True)
                                                 if "." in f or "_" in f) + r")(?![\w.])")


def in_flags(error: Exception) -> str:
    """An error's message, with the configuration's field names said as the options that set them."""
    if not isinstance(error, ConfigError):
        return str(error)
    problem = _FIELD.sub(lambda m: FLAGS[m.group(1)], error.problem)
    return f"{FLAGS.get(error.field, error.field)} {problem}"


@dataclass(frozen=True)
class Limit:
    """The values an option that sets no field of the configuration may take (the fields' own
    rules are ``TransferConfig.validate``'s): ``allows(value)``, else "FLAG must be RULE, not VALUE"."""

    allows: Callable[[Any], bool]
    rule: str

    def check(self, flag: str, value: Any) -> None:
        if value is not None and not self.allows(value):
            raise UserError(f"{flag} must be {self.rule}, not {value}")


def at_least(low: int, note: str = "") -> Limit:
    """A whole number of at least ``low``."""
    return Limit(lambda value: value >= low, f"a whole number >= {low}{note}")


def positive(unit: str = "number") -> Limit:
    return Limit(lambda value: value > 0, f"a positive {unit}")


def not_negative(unit: str = "number") -> Limit:
    return Limit(lambda value: value >= 0, f"a {unit} >= 0")


def check_limits(args: argparse.Namespace, limits: Mapping[str, Limit]) -> None:
    """Each option of ``limits`` that ``args`` has, against its limit (a UserError on the first one out)."""
    for flag, limit in limits.items():
        limit.check(flag, getattr(args, flag.lstrip("-").replace("-", "_"), None))


def layers(text: str) -> str:
    """A layer list as typed: its names resolve against the network, known once the weights are
    (a file says which network it holds); a name no network has is refused now."""
    for name in text.replace(",", " ").split():
        if not any(_known(net, name) for net in NETWORKS.values()):
            raise argparse.ArgumentTypeError(f"unknown layer {name!r}: use names like conv4_2, relu4_2, pool4, or "
                                             f"indices into the network's features")
    if not text.replace(",", " ").split():
        raise argparse.ArgumentTypeError("a layer list is empty: name at least one layer")
    return text


def _known(net, name: str) -> bool:
    try:
        net.index(name)
    except UserError:
        return False
    return True


def _defaults(attribute: str) -> str:
    return "; ".join(f"{net.title}: {','.join(getattr(net, attribute))}" for net in (VGG19, VGG16))


DEVICES = ("auto", "cpu", "gpu")


_DEFAULT = TransferConfig()  # the options' defaults are the configuration's own


def add_transfer_options(p: argparse.ArgumentParser, size: tuple[int, int] = _DEFAULT.size,
                         steps: int = _DEFAULT.schedule.steps) -> None:
    """Images, size, schedule, optimizer, scales, colours, loss weights, layers, weights, device, seed."""
    chapter, caffe = defaults_for("torchvision"), defaults_for("caffe")
    p.add_argument("--content", help="content photo (default: the chapter's rainier.jpg, downloaded once)")
    p.add_argument("--style", nargs="+", metavar="FILE",
                   help="one or more style paintings, blended (default: the chapter's autumn-oak.jpg, downloaded once)")
    p.add_argument("--style-blend", nargs="+", type=real, default=(), metavar="SHARE",
                   help="one share per style in the style loss, normalised to sum 1 (default: equal)")
    p.add_argument("--style-scale", type=real, default=_DEFAULT.style_scale,
                   help="each style's long edge as a multiple of the content's; styles keep their aspect ratio")
    p.add_argument("--style-fit", choices=STYLE_FITS, default=_DEFAULT.style_fit,
                   help="keep: each style keeps its aspect ratio; stretch: resized to the content's height and "
                        "width, as the chapter does (bit-identical to it)")
    p.add_argument("--size", nargs="+", type=whole, default=size, metavar="N",
                   help="N: the result's long edge, the content's aspect ratio kept; H W: height and width")
    p.add_argument("--steps", type=whole, default=steps,
                   help="Adam updates, or L-BFGS loss-and-gradient evaluations, at the final size")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=_DEFAULT.optimizer,
                   help="adam: the framework's own; lbfgs: SciPy's L-BFGS-B, pixels kept inside [0, 1]")
    p.add_argument("--bounded", action="store_true", help="Adam: clip the image into [0, 1] after every update")
    p.add_argument("--init", choices=INITS, default=_DEFAULT.init,
                   help="start from the content image, seeded noise (see --seed) or the first style image")
    p.add_argument("--lr", type=real, help=f"Adam's initial learning rate (default: {chapter.lr:g}; {caffe.lr:g} for "
                                            f"Caffe-convention weights, whose units are about 57 times smaller)")
    p.add_argument("--lr-decay-every", type=whole, default=_DEFAULT.schedule.decay_every,
                   help="multiply the rate by the factor every N steps")
    p.add_argument("--lr-decay-factor", type=real, default=_DEFAULT.schedule.decay_factor,
                   help="what the rate is multiplied by at each decay")
    defaults = _DEFAULT.scales
    p.add_argument("--scales", type=whole, default=defaults.count,
                   help="coarse to fine: this many sizes, each the result of the one before upsampled")
    p.add_argument("--scale-factor", type=real, default=defaults.factor, help="size ratio between scales")
    p.add_argument("--scale-steps", type=whole, default=defaults.steps, help="steps at each size before the final one")
    p.add_argument("--scale-lr", type=real,
                   help=f"Adam's learning rate at each size after the first (default: {chapter.scale_lr:g}; "
                        f"{caffe.scale_lr:g} for Caffe-convention weights)")
    p.add_argument("--scale-moments", choices=MOMENTS, default=defaults.moments,
                   help="Adam's moments between sizes: resized with the image, or reset")
    p.add_argument("--scale-filter", choices=UPSAMPLING, default=defaults.upsample,
                   help="the filter that upsamples the image from one size to the next")
    p.add_argument("--plateau-window", type=whole, default=_DEFAULT.plateau.window, metavar="N",
                   help="stop each size once its loss has improved by less than --plateau-fraction over its "
                        "last N steps (0: every step runs, as in the chapter; --recipe fast sets it)")
    p.add_argument("--plateau-fraction", type=real, default=_DEFAULT.plateau.fraction, metavar="F",
                   help="the improvement over --plateau-window steps below which a size is done")
    p.add_argument("--preserve-colors", choices=COLOR_MODES, default=_DEFAULT.colors,
                   help="keep the content's colours: luminance-only transfer, or the styles recoloured to the "
                        "content's colour mean and covariance (Gatys et al. 2016)")
    p.add_argument("--content-weight", type=real,
                   help=f"multiplier of the content loss (default: {chapter.loss_weights.content:g})")
    p.add_argument("--style-weight", type=real,
                   help=f"multiplier of the style loss (default: 1e4, the chapter's 1e3 summed ten times; "
                        f"{caffe.loss_weights.style:.3g} for Caffe-convention weights)")
    p.add_argument("--tv-weight", type=real,
                   help=f"multiplier of the total-variation loss (default: {chapter.loss_weights.tv:g}; "
                        f"{caffe.loss_weights.tv:.4g} for Caffe-convention weights)")
    p.add_argument("--content-layers", type=layers, metavar="LAYERS",
                   help=f"layers by name or index, comma-separated (default: {_defaults('content_names')})")
    p.add_argument("--style-layers", type=layers, metavar="LAYERS",
                   help=f"as --content-layers (default: {_defaults('style_names')})")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision's), gluon (MXNet model zoo's), random (seeded, for smoke runs), "
                        "or a file: .npz (neutral), .pth (torchvision), .params (Gluon), .h5 (Keras); a file "
                        "says whether it holds VGG-16 or VGG-19")
    p.add_argument("--network", choices=tuple(NETWORKS),
                   help="the network for imagenet, gluon and random (default: vgg19); with a file, only a check "
                        "of what it holds")
    p.add_argument("--weights-convention", choices=tuple(CONVENTIONS),
                   help="how the weights take a picture: torchvision (RGB in [0, 1], ImageNet mean and std) or "
                        "caffe (BGR in 0-255, mean subtracted); default: the file's format's (Keras: caffe; "
                        "torchvision, Gluon, random: torchvision)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: a GPU the framework can really use, else the CPU")
    p.add_argument("--seed", type=whole, default=_DEFAULT.seed,
                   help="seeds the two random things a run can have: --weights random and --init noise")


def needs_content(args: argparse.Namespace) -> bool:
    """Whether the configuration's size depends on the content image: ``--size N`` keeps its aspect ratio."""
    return len(args.size) == 1


def result_size(spec: Sequence[int], content: Optional[tuple[int, int]] = None) -> tuple[int, int]:
    """``--size N`` (long edge, the content's aspect ratio) or ``--size H W``, as (height, width);
    ``content``, the content image's (height, width), is needed for ``--size N`` only."""
    if len(spec) == 1:
        if not MIN_SIDE <= spec[0] <= MAX_SIDE:
            raise ConfigError("size", f"{spec[0]}: the long edge must be a whole number of pixels from {MIN_SIDE} "
                              f"to {MAX_SIDE}")
        if content is None:
            raise TypeError("--size N needs the content image's size")
        return fit_long_edge(content, spec[0])
    if len(spec) == 2:
        return int(spec[0]), int(spec[1])
    raise ConfigError("size", f"takes one number (the long edge) or two (height width), not {len(spec)}")


def config_from(args: Any, content: Optional[tuple[int, int]] = None,
                weights: Optional[Weights] = None) -> TransferConfig:
    """The configuration ``args`` describes, built once and validated: every option of ``FIELDS``
    that ``args`` has (an argparse namespace or any object with them as attributes; None or
    missing: the field's default). ``content`` is the content image's (height, width), needed for
    ``--size N`` only. Layer names resolve against the weights' network, and unset loss weights
    and rates take their convention's defaults (without weights: --network's, or VGG-19, in
    torchvision's convention); weights without arrays (``io.weights.described``) are enough."""
    net = weights.network if weights is not None else network(getattr(args, "network", None) or "vgg19")
    defaults = defaults_for(weights.convention.name if weights is not None else "torchvision")
    values: dict[str, Any] = {"network": net.name, "schedule.lr": defaults.lr, "scales.lr": defaults.scale_lr,
                              **{f"loss_weights.{name}": value for name, value in asdict(defaults.loss_weights).items()}}
    for dest, field in FIELDS.items():
        value = getattr(args, dest, None)
        if value is not None and dest != "network":  # the network is the weights' (--network only chose them)
            values[field] = _field_value(dest, value, content, net)
    return TransferConfig.from_fields(values).validate()


def _field_value(dest: str, value: Any, content: Optional[tuple[int, int]], net: Network) -> Any:
    if dest == "size":
        return result_size(value, content)
    if dest in ("content_layers", "style_layers"):
        return net.parse(value)
    if dest == "style_blend":
        return tuple(value)
    return value


def execution_from(args: Any) -> Execution:
    """How ``args`` asks the backend to run (``--precision``, ``--compile``), validated."""
    return Execution(precision=getattr(args, "precision", None) or "fp32",
                     compile=bool(getattr(args, "compile", False))).validate()


def recipe_fields(name: str) -> dict[str, Any]:
    """A run recipe's option defaults as the configuration fields they set: what ``--recipe NAME``
    does to a configuration (``bench.py quality`` races it)."""
    return {FIELDS[dest]: value for dest, value in RUN_RECIPES[name].items()}
