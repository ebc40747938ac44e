"""One picture from the command line's options, start to finish: everything cheap is checked
first, then the images are read, the backend built, the loop run with progress, log and
snapshots, and the result, plot and summary written. ``scripts/run.py`` parses and calls this."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ..config import Execution
from ..images import image_size, load_rgb, save_image
from ..registry import load_backend
from ..samples import sample_image
from ..transfer import StepRecord, TransferResult, transfer
from ..weights import load_weights
from . import preflight
from .cli import config_from
from .plots import plot_losses
from .progress import JsonlLog, Progress, summary_line

# Exit statuses (bad input, 2, is run_main's).
DONE, DIVERGED, INTERRUPTED = 0, 1, 130


def snapshot_path(output: Path, step: int) -> Path:
    return output.with_name(f"{output.stem}_step{step:04d}{output.suffix}")


def read_inputs(args: argparse.Namespace) -> tuple[np.ndarray, list[np.ndarray]]:
    """The content and style files, whole (each size is resized from these)."""
    content = load_rgb(args.content or sample_image("content"))
    styles = [load_rgb(path) for path in (args.style or [sample_image("style")])]
    return content, styles


def stylize(args: argparse.Namespace, prog: str) -> int:
    """Run ``args`` (run.py's options); returns the exit status."""
    preflight.check_run(args)  # everything cheap, before a framework is imported or any work starts
    output = Path(args.output)
    content, styles = read_inputs(args)
    config = config_from(args, image_size(content), align_epsilon=args.align_adam_epsilon)
    config.blend(len(styles))  # one weight per style, checked before any work

    backend_class = load_backend(args.backend)
    preflight.check_backend(args, backend_class)
    weights = load_weights(args.weights, config.last_layer, args.seed)
    execution = Execution(precision=args.precision, compile=args.compile).validate()
    backend = backend_class(weights, last_layer=config.last_layer, device=args.device, execution=execution)
    print(f"{backend.framework} on {backend.device} ({args.precision}, {backend.environment()['threads']} threads); "
          f"weights {args.weights}; {config.describe()}", file=sys.stderr)

    log = JsonlLog(args.log) if args.log else None
    progress = Progress(config.total_steps, backend.name, config.scales.count)

    def on_step(record: StepRecord, current: Callable[[], object]) -> None:
        progress.update(record)
        if log:
            log.write(record)
        if args.save_every and record.step % args.save_every == 0:
            save_image(current(), snapshot_path(output, record.step))

    try:
        result = transfer(backend, content, styles, config, on_step)
    finally:
        progress.close()
        if log:
            log.close()
    save_image(result.image, output)
    if args.plot and result.records:
        plot_losses(result.records, args.plot, f"{backend.framework}, {config.sizes_text()}")
    return _finish(result, output, prog)


def _finish(result: TransferResult, output: Path, prog: str) -> int:
    if result.stopped:
        print(f"{prog}: stopped: {result.stopped}", file=sys.stderr)
    print(summary_line(result, output))
    if result.stopped:
        return DIVERGED if result.diverged else INTERRUPTED
    return DONE
