"""Command-line pieces shared by the scripts: the options that describe a style-transfer run,
a help layout that shows each default once, and the rule that bad input is one line and exit
status 2."""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from ..config import AdamSettings, LossWeights, Schedule, TransferConfig
from ..errors import UserError
from ..layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, LAYER_NAMES, parse_layers


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
    return _number(float, text, "a number")


def layers(text: str) -> tuple[int, ...]:
    try:
        return parse_layers(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _names(indices: Sequence[int]) -> str:
    return ",".join(LAYER_NAMES[i] for i in indices)


def add_transfer_options(p: argparse.ArgumentParser, size: tuple[int, int] = (300, 450), steps: int = 500) -> None:
    """Images, size, schedule, loss weights, layers, weights, device and seed."""
    p.add_argument("--content", help="content photo (default: the chapter's rainier.jpg, downloaded once)")
    p.add_argument("--style", help="style painting (default: the chapter's autumn-oak.jpg, downloaded once)")
    p.add_argument("--size", nargs=2, type=whole, default=size, metavar=("H", "W"),
                   help=f"height and width both images are resized to (default: {size[0]} {size[1]})")
    p.add_argument("--steps", type=whole, default=steps, help="Adam updates")
    p.add_argument("--lr", type=real, default=0.3, help="initial learning rate")
    p.add_argument("--lr-decay-every", type=whole, default=50, help="multiply the rate by the factor every N steps")
    p.add_argument("--lr-decay-factor", type=real, default=0.8, help="what the rate is multiplied by at each decay")
    p.add_argument("--content-weight", type=real, default=1.0, help="multiplier of the content loss")
    p.add_argument("--style-weight", type=real, default=1e4,
                   help="multiplier of the style loss (the chapter's 1e3, summed ten times)")
    p.add_argument("--tv-weight", type=real, default=10.0, help="multiplier of the total-variation loss")
    p.add_argument("--content-layers", type=layers, default=DEFAULT_CONTENT_LAYERS,
                   help=f"VGG-19 layers by name or index, comma-separated (default: {_names(DEFAULT_CONTENT_LAYERS)})")
    p.add_argument("--style-layers", type=layers, default=DEFAULT_STYLE_LAYERS,
                   help=f"as --content-layers (default: {_names(DEFAULT_STYLE_LAYERS)})")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision's, both backends), gluon (MXNet model zoo's), random "
                        "(seeded, for smoke runs), or a .npz / .pth file")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                   help="auto: a GPU the framework can really use, else the CPU")
    p.add_argument("--seed", type=whole, default=0,
                   help="seed of --weights random (nothing else is random in a run)")


def config_from(args: argparse.Namespace, align_epsilon: bool = False) -> TransferConfig:
    return TransferConfig(
        size=tuple(args.size), content_layers=args.content_layers, style_layers=args.style_layers,
        weights=LossWeights(args.content_weight, args.style_weight, args.tv_weight),
        schedule=Schedule(args.steps, args.lr, args.lr_decay_every, args.lr_decay_factor),
        adam=AdamSettings(align_epsilon=align_epsilon),
    ).validate()


def run_main(prog: str, parser: argparse.ArgumentParser, body: Callable[[argparse.Namespace], int],
             argv: Optional[Sequence[str]] = None) -> int:
    """Parse, run, and turn every user error into one line and exit status 2."""
    args = parser.parse_args(argv)
    try:
        return body(args)
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:  # RuntimeError covers torch's and MXNet's out-of-memory errors
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            size = getattr(args, "size", ("?", "?"))
            print(f"{prog}: error: out of memory at --size {size[0]} {size[1]}; try a smaller size", file=sys.stderr)
            return 2
        raise
