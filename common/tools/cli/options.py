"""Command-line pieces shared by the scripts: the options that describe a style-transfer run,
the configuration they make, the flag for each configuration field (the core words its errors
in field names), a help layout that shows each default once, and the rule that bad input is one
line and exit status 2."""
from __future__ import annotations

import argparse
import math
import re
from typing import Optional, Sequence

from common.config import (COLOR_MODES, INITS, MAX_SIDE, MIN_SIDE, MOMENTS, OPTIMIZERS, STYLE_FITS, UPSAMPLING,
                           AdamSettings, LossWeights, Schedule, Scales, TransferConfig, defaults_for)
from common.errors import ConfigError, UserError
from common.images import fit_long_edge
from common.conventions import CONVENTIONS
from common.layers import NETWORKS, VGG16, VGG19, network
from common.weights import Weights

# The option that sets each field of TransferConfig (and Execution), for errors the core words
# in field names: "schedule.steps must be a positive whole number" is "--steps must be ...".
FLAGS = {
    "size": "--size", "content_layers": "--content-layers", "style_layers": "--style-layers",
    "schedule.steps": "--steps", "schedule.lr": "--lr", "schedule.decay_every": "--lr-decay-every",
    "schedule.decay_factor": "--lr-decay-factor", "weights.content": "--content-weight",
    "weights.style": "--style-weight", "weights.tv": "--tv-weight",
    "weights": "--content-weight, --style-weight and --tv-weight", "optimizer": "--optimizer", "init": "--init",
    "colors": "--preserve-colors", "scales.count": "--scales", "scales.factor": "--scale-factor",
    "scales.steps": "--scale-steps", "scales.lr": "--scale-lr", "scales.moments": "--scale-moments",
    "scales.upsample": "--scale-filter", "style_scale": "--style-scale", "style_fit": "--style-fit",
    "style_blend": "--style-blend", "seed": "--seed", "precision": "--precision", "network": "--network",
    "convention": "--weights-convention",
}
# Inside a message only names no English word could be (dotted or with an underscore) are replaced.
_FIELD = re.compile(r"(?<![\w.-])(" + "|".join(re.escape(f) for f in sorted(FLAGS, key=len, reverse=True)
                                                 if "." in f or "_" in f) + r")(?![\w.])")


def in_flags(error: Exception) -> str:
    """An error's message, with the configuration's field names said as the options that set them."""
    if not isinstance(error, ConfigError):
        return str(error)
    problem = _FIELD.sub(lambda m: FLAGS[m.group(1)], error.problem)
    return f"{FLAGS.get(error.field, error.field)} {problem}"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Adds "(default: X)" to an option's help unless the help already says its default, or
    there is none worth saying (None, a flag that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text.lower() or action.default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return super()._get_help_string(action)


class OneLineParser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse would print the whole usage first
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, text: str, what: str):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None


def whole(text: str) -> int:
    return _number(int, text, "a whole number")


def real(text: str) -> float:
    """A finite number: every real-valued option is a rate, weight, factor or amount, for which
    NaN or infinity (also what "1e400" parses to) could only fail later, after work was done."""
    value = _number(float, text, "a number")
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


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


def add_transfer_options(p: argparse.ArgumentParser, size: tuple[int, int] = (300, 450), steps: int = 500) -> None:
    """Images, size, schedule, optimizer, scales, colours, loss weights, layers, weights, device, seed."""
    caffe = defaults_for("caffe")
    p.add_argument("--content", help="content photo (default: the chapter's rainier.jpg, downloaded once)")
    p.add_argument("--style", nargs="+", metavar="FILE",
                   help="one or more style paintings, blended (default: the chapter's autumn-oak.jpg, downloaded once)")
    p.add_argument("--style-blend", nargs="+", type=real, default=(), metavar="W",
                   help="one weight per style, normalised to sum 1 (default: equal)")
    p.add_argument("--style-scale", type=real, default=1.0,
                   help="each style's long edge as a multiple of the content's; styles keep their aspect ratio")
    p.add_argument("--style-fit", choices=STYLE_FITS, default="keep",
                   help="keep: each style keeps its aspect ratio; stretch: resized to the content's height and "
                        "width, as the chapter does (bit-identical to it)")
    p.add_argument("--size", nargs="+", type=whole, default=size, metavar="N",
                   help=f"N: the result's long edge, the content's aspect ratio kept; H W: height and width "
                        f"(default: {size[0]} {size[1]})")
    p.add_argument("--steps", type=whole, default=steps,
                   help="Adam updates, or L-BFGS loss-and-gradient evaluations, at the final size")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                   help="adam: the framework's own; lbfgs: SciPy's L-BFGS-B, pixels kept inside [0, 1]")
    p.add_argument("--bounded", action="store_true", help="Adam: clip the image into [0, 1] after every update")
    p.add_argument("--init", choices=INITS, default="content",
                   help="start from the content image, seeded noise (see --seed) or the first style image")
    p.add_argument("--lr", type=real, help=f"Adam's initial learning rate (default: 0.3; {caffe.lr:g} for "
                                            f"Caffe-convention weights, whose units are about 57 times smaller)")
    p.add_argument("--lr-decay-every", type=whole, default=50, help="multiply the rate by the factor every N steps")
    p.add_argument("--lr-decay-factor", type=real, default=0.8, help="what the rate is multiplied by at each decay")
    defaults = Scales()
    p.add_argument("--scales", type=whole, default=defaults.count,
                   help="coarse to fine: this many sizes, each the result of the one before upsampled")
    p.add_argument("--scale-factor", type=real, default=defaults.factor, help="size ratio between scales")
    p.add_argument("--scale-steps", type=whole, default=defaults.steps, help="steps at each size before the final one")
    p.add_argument("--scale-lr", type=real, help=f"Adam's learning rate at each size after the first (default: "
                                                  f"{defaults.lr:g}; {caffe.scale_lr:g} for Caffe-convention weights)")
    p.add_argument("--scale-moments", choices=MOMENTS, default=defaults.moments,
                   help="Adam's moments between sizes: resized with the image, or reset")
    p.add_argument("--scale-filter", choices=UPSAMPLING, default=defaults.upsample,
                   help="the filter that upsamples the image from one size to the next")
    p.add_argument("--preserve-colors", choices=COLOR_MODES, default="none",
                   help="keep the content's colours: luminance-only transfer, or the styles recoloured to the "
                        "content's colour mean and covariance (Gatys et al. 2016)")
    p.add_argument("--content-weight", type=real, help="multiplier of the content loss (default: 1)")
    p.add_argument("--style-weight", type=real,
                   help=f"multiplier of the style loss (default: 1e4, the chapter's 1e3 summed ten times; "
                        f"{caffe.weights.style:.3g} for Caffe-convention weights)")
    p.add_argument("--tv-weight", type=real,
                   help=f"multiplier of the total-variation loss (default: 10; {caffe.weights.tv:.4g} for "
                        f"Caffe-convention weights)")
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
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto: a GPU the framework can really use, else the CPU")
    p.add_argument("--seed", type=whole, default=0,
                   help="seeds the two random things a run can have: --weights random and --init noise")


def result_size(spec: Sequence[int], content: tuple[int, int]) -> tuple[int, int]:
    """``--size N`` (long edge, the content's aspect ratio) or ``--size H W``, as (height, width)."""
    if len(spec) == 1:
        if not MIN_SIDE <= spec[0] <= MAX_SIDE:
            raise ConfigError("size", f"{spec[0]}: the long edge must be a whole number of pixels from {MIN_SIDE} "
                              f"to {MAX_SIDE}")
        return fit_long_edge(content, spec[0])
    if len(spec) == 2:
        return int(spec[0]), int(spec[1])
    raise ConfigError("size", f"takes one number (the long edge) or two (height width), not {len(spec)}")


def config_from(args: argparse.Namespace, content: tuple[int, int], weights: Optional[Weights] = None,
                align_epsilon: bool = False) -> TransferConfig:
    """The run's configuration; ``content`` is the content image's (height, width) for ``--size N``.
    Layer names resolve against the weights' network, and unset loss weights take their
    convention's defaults (without weights: --network's, or VGG-19, in torchvision's convention)."""
    net = weights.network if weights is not None else network(getattr(args, "network", None) or "vgg19")
    defaults = defaults_for(weights.convention.name if weights is not None else "torchvision")
    given = (args.content_weight, args.style_weight, args.tv_weight)
    lr = args.lr if args.lr is not None else defaults.lr
    scale_lr = args.scale_lr if args.scale_lr is not None else defaults.scale_lr
    return TransferConfig(
        size=result_size(args.size, content), network=net.name,
        content_layers=net.parse(args.content_layers) if args.content_layers else (),
        style_layers=net.parse(args.style_layers) if args.style_layers else (),
        weights=LossWeights(*(g if g is not None else d for g, d in zip(given, (defaults.weights.content,
                                                                                 defaults.weights.style,
                                                                                 defaults.weights.tv)))),
        schedule=Schedule(args.steps, lr, args.lr_decay_every, args.lr_decay_factor),
        adam=AdamSettings(align_epsilon=align_epsilon), optimizer=args.optimizer, bounded=args.bounded,
        init=args.init, seed=args.seed, style_scale=args.style_scale, style_fit=args.style_fit,
        style_blend=tuple(args.style_blend),
        colors=args.preserve_colors,
        scales=Scales(args.scales, args.scale_factor, args.scale_steps, scale_lr, args.scale_moments,
                      args.scale_filter),
    ).validate()
