#!/usr/bin/env python
"""Neural style transfer (Gatys et al. 2016) from the command line, with either backend:

    python scripts/run.py --backend torch
    python scripts/run.py --backend mxnet --content photo.jpg --style painting.jpg --size 300 450

Bad input ends in one line on stderr and exit status 2; a run that diverges (NaN loss)
saves its last good image and exits 1; Ctrl-C saves the last good image and exits 130.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable from a clone without installing the package
    sys.path.insert(0, str(ROOT))

from common.config import AdamSettings, LossWeights, Schedule, TransferConfig  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.images import check_image_path, check_writable, read_image, save_image  # noqa: E402
from common.layers import DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, LAYER_NAMES, parse_layers  # noqa: E402
from common.registry import backend_names, load_backend  # noqa: E402
from common.reporting import JsonlLog, Progress, plot_losses, summary_line  # noqa: E402
from common.samples import sample_image  # noqa: E402
from common.transfer import StepRecord, transfer  # noqa: E402
from common.weights import check_spec, load_weights  # noqa: E402

PROG = "run.py"


class OneLineParser(argparse.ArgumentParser):
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


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Neural style transfer with MXNet or PyTorch behind one interface.",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backend", choices=backend_names(), default="torch", help="framework that runs the network")
    p.add_argument("--content", help="content photo (default: the chapter's rainier.jpg, downloaded once)")
    p.add_argument("--style", help="style painting (default: the chapter's autumn-oak.jpg, downloaded once)")
    p.add_argument("--output", default="stylized.png", help="where the result is written (.png, .jpg, ...)")
    p.add_argument("--size", nargs=2, type=whole, default=(300, 450), metavar=("H", "W"),
                   help="height and width both images are resized to")
    p.add_argument("--steps", type=whole, default=500, help="Adam updates")
    p.add_argument("--lr", type=real, default=0.3, help="initial learning rate")
    p.add_argument("--lr-decay-every", type=whole, default=50, help="multiply the rate by the factor every N steps")
    p.add_argument("--lr-decay-factor", type=real, default=0.8)
    p.add_argument("--content-weight", type=real, default=1.0)
    p.add_argument("--style-weight", type=real, default=1e4)
    p.add_argument("--tv-weight", type=real, default=10.0)
    names = lambda idx: ",".join(LAYER_NAMES[i] for i in idx)  # noqa: E731
    p.add_argument("--content-layers", type=layers, default=DEFAULT_CONTENT_LAYERS,
                   help=f"VGG-19 layers by name or index, comma-separated (default {names(DEFAULT_CONTENT_LAYERS)})")
    p.add_argument("--style-layers", type=layers, default=DEFAULT_STYLE_LAYERS,
                   help=f"(default {names(DEFAULT_STYLE_LAYERS)})")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision's, both backends), gluon (MXNet model zoo's), random "
                        "(seeded, for smoke runs), or a .npz / .pth file")
    p.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument("--seed", type=whole, default=0, help="seed of --weights random")
    p.add_argument("--align-adam-epsilon", action="store_true",
                   help="make MXNet's Adam place epsilon as PyTorch's does, so both give the same losses")
    p.add_argument("--log", metavar="FILE.jsonl", help="one JSON object per step")
    p.add_argument("--plot", metavar="FILE.png", help="save the loss curves")
    p.add_argument("--save-every", type=whole, default=0, metavar="N",
                   help="also save the image every N steps beside the output (0: never)")
    return p


def snapshot_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}_step{step:04d}{output.suffix}")


def config_from(args: argparse.Namespace) -> TransferConfig:
    if args.save_every < 0:
        raise UserError(f"--save-every must be 0 (never) or a positive whole number, not {args.save_every}")
    return TransferConfig(
        size=tuple(args.size), content_layers=args.content_layers, style_layers=args.style_layers,
        weights=LossWeights(args.content_weight, args.style_weight, args.tv_weight),
        schedule=Schedule(args.steps, args.lr, args.lr_decay_every, args.lr_decay_factor),
        adam=AdamSettings(align_epsilon=args.align_adam_epsilon),
    ).validate()


def run(args: argparse.Namespace) -> int:
    # Everything cheap is checked before a framework is imported or any work starts.
    config = config_from(args)
    output = check_image_path(args.output)
    if args.plot:
        check_image_path(args.plot)
    if args.log:
        check_writable(args.log)
    check_spec(args.weights)
    content = read_image(args.content or sample_image("content"), config.size)
    style = read_image(args.style or sample_image("style"), config.size)

    backend_class = load_backend(args.backend)
    weights = load_weights(args.weights, config.last_layer, args.seed)
    backend = backend_class(weights, last_layer=config.last_layer, device=args.device)
    print(f"{backend.framework} on {backend.device}; weights {args.weights}; {config.describe()}", file=sys.stderr)

    log = JsonlLog(args.log) if args.log else None
    progress = Progress(config.schedule.steps, backend.name)

    def on_step(record: StepRecord, current: Callable[[], object]) -> None:
        progress.update(record)
        if log:
            log.write(record)
        if args.save_every and record.step % args.save_every == 0:
            save_image(current(), snapshot_path(output, record.step))

    try:
        result = transfer(backend, content, style, config, on_step)
    finally:
        progress.close()
        if log:
            log.close()
    save_image(result.image, output)
    if args.plot and result.records:
        plot_losses(result.records, args.plot, f"{backend.framework}, {config.size[0]}x{config.size[1]}")
    if result.stopped:
        print(f"{PROG}: stopped: {result.stopped}", file=sys.stderr)
    print(summary_line(result, output))
    if result.stopped:
        return 1 if result.diverged else 130
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except UserError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:  # RuntimeError covers torch's and MXNet's out-of-memory errors
        if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
            print(f"{PROG}: error: out of memory at --size {args.size[0]} {args.size[1]}; try a smaller size",
                  file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
