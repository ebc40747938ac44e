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

from common.cli import OneLineParser, add_transfer_options, config_from, run_main, whole  # noqa: E402
from common.config import Execution  # noqa: E402
from common.errors import UserError  # noqa: E402
from common.images import check_image_path, check_writable, read_image, save_image  # noqa: E402
from common.registry import backend_names, load_backend  # noqa: E402
from common.reporting import JsonlLog, Progress, plot_losses, summary_line  # noqa: E402
from common.samples import sample_image  # noqa: E402
from common.transfer import StepRecord, transfer  # noqa: E402
from common.weights import check_spec, load_weights  # noqa: E402

PROG = "run.py"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Neural style transfer with MXNet or PyTorch behind one interface.",
                      formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--backend", choices=backend_names(), default="torch", help="framework that runs the network")
    p.add_argument("--output", default="stylized.png", help="where the result is written (.png, .jpg, ...)")
    add_transfer_options(p)
    p.add_argument("--align-adam-epsilon", action="store_true",
                   help="make MXNet's Adam place epsilon as PyTorch's does, so both give the same losses")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: the VGG network under bf16 autocast (PyTorch), losses and Gram in fp32")
    p.add_argument("--compile", action="store_true",
                   help="PyTorch: torch.compile the feature network (slow first step; measured slower on this CPU)")
    p.add_argument("--log", metavar="FILE.jsonl", help="one JSON object per step")
    p.add_argument("--plot", metavar="FILE.png", help="save the loss curves")
    p.add_argument("--save-every", type=whole, default=0, metavar="N",
                   help="also save the image every N steps beside the output (0: never)")
    return p


def snapshot_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}_step{step:04d}{output.suffix}")


def run(args: argparse.Namespace) -> int:
    # Everything cheap is checked before a framework is imported or any work starts.
    if args.save_every < 0:
        raise UserError(f"--save-every must be 0 (never) or a positive whole number, not {args.save_every}")
    config = config_from(args, align_epsilon=args.align_adam_epsilon)
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
    execution = Execution(precision=args.precision, compile=args.compile).validate()
    backend = backend_class(weights, last_layer=config.last_layer, device=args.device, execution=execution)
    print(f"{backend.framework} on {backend.device} ({args.precision}, {backend.environment()['threads']} threads); "
          f"weights {args.weights}; {config.describe()}", file=sys.stderr)

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
    return run_main(PROG, build_parser(), run, argv)


if __name__ == "__main__":
    sys.exit(main())
