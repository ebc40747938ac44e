"""One picture from the command line's options, start to finish: everything cheap is checked
first, then the images are read, the backend built, the loop run with progress, log, snapshots
and checkpoints, and the result, plot and summary written. A side file that fails to write
(snapshot, log, plot, checkpoint) warns once and the run goes on. ``scripts/run.py`` parses
and calls this."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from common.config import Execution, TransferConfig
from common.images import image_size
from common.records import Resumable, StepRecord, TransferResult
from common.registry import load_backend
from common.transfer import transfer
from common.weights import Weights

from ..io import checkpoints
from ..io.downloads import sample_image, sha256_of
from ..io.pictures import load_rgb, save_image
from ..io.weights import load_weights
from . import preflight
from .exits import BAD_INPUT, DIVERGED, DONE, INTERRUPTED
from .memory import check_run
from .options import config_from
from .plot import plot_losses
from .progress import JsonlLog, Progress, summary_line
from .signals import Stop


def snapshot_path(output: Path, step: int) -> Path:
    """The image whose losses the log gives at ``step`` (the image before update ``step``)."""
    return output.with_name(f"{output.stem}_step{step:04d}{output.suffix}")


def input_paths(args: argparse.Namespace) -> tuple[Path, list[Path]]:
    """The content and style files (the chapter's own, downloaded once, when none are given)."""
    return (Path(args.content or sample_image("content")),
            [Path(p) for p in (args.style or [sample_image("style")])])


class SideFiles:
    """Writes what accompanies the result; the first failure of each kind warns once, and the
    run goes on without that kind."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        self.failed: set[str] = set()

    def write(self, kind: str, path: object, action: Callable[[], object]) -> bool:
        if kind in self.failed:
            return False
        try:
            action()
            return True
        except OSError as exc:
            self.failed.add(kind)
            print(f"{self.prog}: warning: cannot write the {kind} {path} ({exc.strerror or exc}); "
                  f"the run goes on without it", file=sys.stderr)
            return False


def run_identity(args: argparse.Namespace, config: TransferConfig, framework: str,
                 content: Path, styles: list[Path], weights: Weights) -> dict:
    """What a checkpoint of this run records, and a resumed run must match."""
    return checkpoints.identity(backend=args.backend, framework=framework, config=config,
                                precision=args.precision, compile=args.compile, weights=args.weights,
                                convention=weights.convention.name, content=sha256_of(content),
                                styles=[sha256_of(s) for s in styles])


def stylize(args: argparse.Namespace, prog: str) -> int:
    """Run ``args`` (run.py's options); returns the exit status."""
    preflight.check_run(args)  # everything cheap, before a framework is imported or any work starts
    output = Path(args.output)
    resume: Optional[Resumable] = None
    if args.resume:
        resume, saved = checkpoints.load(args.resume)
    content_path, style_paths = input_paths(args)
    content, styles = load_rgb(content_path), [load_rgb(path) for path in style_paths]
    backend_class = load_backend(args.backend)
    preflight.check_backend(args, backend_class, prog)
    # The weights say which network they are and how they take a picture: the configuration's
    # layers and loss weights follow from them.
    weights = load_weights(args.weights, args.network, args.seed, args.weights_convention)
    config = config_from(args, image_size(content), weights, align_epsilon=args.align_adam_epsilon)
    config.blend(len(styles))  # one weight per style, checked before any work
    # The memory the run will need, from a model fitted to measured peaks, against what is free:
    # refused now, naming the largest size that fits, instead of killed later.
    check_run(backend_class, config, content, styles, device=args.device, precision=args.precision,
              max_memory=args.max_memory, size_spec=args.size)
    ident = run_identity(args, config, backend_class.framework, content_path, style_paths, weights)
    if resume is not None:
        checkpoints.check_same(saved, ident, resume, config, args.resume)
    execution = Execution(precision=args.precision, compile=args.compile).validate()
    with backend_class.errors():  # building the network can run out of memory too
        backend = backend_class(weights, last_layer=config.last_layer, device=args.device, execution=execution)
    print(f"{backend.framework} on {backend.device} ({args.precision}, {backend.environment()['threads']} threads); "
          f"weights {args.weights} ({weights.convention.name} convention); {config.describe()}"
          + (f"; resuming after step {len(resume.records)}" if resume else ""), file=sys.stderr)

    files = SideFiles(prog)
    log: Optional[JsonlLog] = None
    if args.log:
        def open_log() -> None:
            nonlocal log
            log = JsonlLog(args.log)
            for record in resume.records if resume else []:  # a resumed run's log holds the whole run
                log.write(record)
        files.write("log", args.log, open_log)
    progress = Progress(config.total_steps, backend.name, config.scales.count,
                        done=len(resume.records) if resume else 0)

    with Stop() as stop:  # from the first step on, Ctrl-C and SIGTERM wait for a step boundary
        def on_step(record: StepRecord, current: Callable[[], np.ndarray]) -> None:
            stop.defer()  # there is an image to keep now
            progress.update(record)
            if log is not None:
                files.write("log", args.log, lambda: log.write(record))
            if args.save_every and record.step % args.save_every == 0:
                path = snapshot_path(output, record.step)
                files.write("snapshot", path, lambda: save_image(current(), path))

        def on_state(state: Resumable) -> None:
            files.write("checkpoint", args.checkpoint, lambda: checkpoints.save(args.checkpoint, state, ident))

        if resume is not None:
            stop.defer()  # the checkpoint's image is there to keep from the start
        try:
            result = transfer(backend, content, styles, config, on_step, should_stop=stop.should_stop,
                              on_state=on_state if args.checkpoint else None, state_every=args.checkpoint_every,
                              resume=resume)
        finally:
            progress.close()
            if log is not None:
                log.close()
        stop.defer()  # the picture is made: a signal now waits until it is written
        try:
            save_image(result.image, output)
        except KeyboardInterrupt:  # a second signal: the write is abandoned whole (it is atomic)
            print(f"{prog}: interrupted while writing {output}; it was not written", file=sys.stderr)
            return INTERRUPTED
        except OSError as exc:
            kept = (f"; the checkpoint {args.checkpoint} holds the run: --resume it with a writable --output"
                    if args.checkpoint and "checkpoint" not in files.failed else "")
            print(f"{prog}: error: cannot write the result {output} ({exc.strerror or exc}){kept}", file=sys.stderr)
            return BAD_INPUT
        if args.plot and result.records and stop.requested is None:
            files.write("plot", args.plot,
                        lambda: plot_losses(result.records, args.plot, f"{backend.framework}, {config.sizes_text()}"))
    if stop.requested is not None and not result.stopped:  # a signal while the picture was written
        result.interrupted = True
        result.stopped = f"interrupted ({stop.requested}) after all {len(result.records)} steps; saved the image"
    return _finish(result, output, prog, args.checkpoint if "checkpoint" not in files.failed else None)


def _finish(result: TransferResult, output: Path, prog: str, checkpoint_path: Optional[str]) -> int:
    if result.stopped:
        resumable = (f"; checkpoint {checkpoint_path} (continue with --resume {checkpoint_path})"
                     if checkpoint_path and not result.diverged else "")
        print(f"{prog}: {'error' if result.out_of_memory else 'stopped'}: {result.stopped}{resumable}", file=sys.stderr)
    print(summary_line(result, output))
    if result.out_of_memory:
        return BAD_INPUT
    if result.diverged:
        return DIVERGED
    return INTERRUPTED if result.interrupted else DONE
