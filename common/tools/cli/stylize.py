"""One picture from the command line's options, start to finish: everything cheap is checked
first, then the images are read, the backend built, the loop run with progress, log, snapshots
and checkpoints, and the result, plot and summary written. A side file that fails to write
(snapshot, log, plot, checkpoint) warns once and the run goes on. ``scripts/run.py`` parses
and calls this."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

from common.config import TransferConfig
from common.records import Checkpoint
from common.run import Ending, Kind, Run
from common.registry import framework_tools, load_backend
from common.transfer import transfer
from common.weights import Weights

from ..io import checkpoints
from ..io.downloads import sample_image, sha256_of
from ..io.pictures import load_rgb, save_image
from ..io.weights import load_weights
from . import preflight
from .command_run import CommandLineRun, SideFiles
from .exits import BAD_INPUT, EXIT_STATUS, INTERRUPTED
from .memory import check_fits
from .options import execution_from
from .phases import Phases
from .plot import plot_losses
from .progress import Progress, summary_line
from .signals import Stop


def input_paths(args: argparse.Namespace) -> tuple[Path, list[Path]]:
    """The content and style files (the chapter's own, downloaded once, when none are given)."""
    return (Path(args.content or sample_image("content")),
            [Path(p) for p in (args.style or [sample_image("style")])])


def run_identity(args: argparse.Namespace, config: TransferConfig, framework: str,
                 content: Path, styles: list[Path], weights: Weights) -> dict:
    """What a checkpoint of this run records, and a resumed run must match."""
    return checkpoints.identity(backend=args.backend, framework=framework, config=config,
                                precision=args.precision, compile=args.compile, weights=args.weights,
                                convention=weights.convention.name, content=sha256_of(content),
                                styles=[sha256_of(s) for s in styles])


def stylize(args: argparse.Namespace, prog: str) -> int:
    """Run ``args`` (run.py's options); returns the exit status."""
    # Everything cheap, before a framework is imported or any work starts. The configuration is
    # built there, once: from the content's size and what the weights are (which network, which
    # input convention: the layers, loss weights and rates follow from them).
    phases = Phases()
    phases.mark("imports")  # this program's own, before any framework
    config, weights = preflight.check_run(args)
    phases.mark("checks")  # a weights file's headers and arrays included
    output = Path(args.output)
    resume: Optional[Checkpoint] = None
    if args.resume:
        resume, saved = checkpoints.load(args.resume, config)  # every field, against this run's sizes
    content_path, style_paths = input_paths(args)
    content, styles = load_rgb(content_path), [load_rgb(path) for path in style_paths]
    phases.mark("images")
    backend_class = load_backend(args.backend)
    phases.mark(backend_class.framework.split()[0])  # importing the framework
    preflight.check_backend(args, backend_class, prog)
    if not weights:  # a source, described by its network and convention: its arrays only now
        weights = load_weights(args.weights, args.network, args.seed, args.weights_convention)
        phases.mark("weights")
    # The memory the run will need, from a model fitted to measured peaks, against what is free:
    # refused now, naming the largest size that fits, instead of killed later.
    check_fits(backend_class, config, content, styles, device=args.device, precision=args.precision,
              max_memory=args.max_memory, size_spec=args.size)
    ident = run_identity(args, config, backend_class.framework, content_path, style_paths, weights)
    if resume is not None:
        checkpoints.check_same(saved, ident, resume, config, args.resume)
    execution = execution_from(args)
    with backend_class.errors():  # building the network can run out of memory too
        backend = backend_class(weights, last_layer=config.last_layer, device=args.device, execution=execution)
    phases.mark("network")  # the memory check included
    print(f"{backend.framework} on {backend.device} ({args.precision}, {framework_tools(args.backend).environment(backend)['threads']} threads); "
          f"weights {args.weights} ({weights.convention.name} convention); {config.describe()}"
          + (f"; resuming after step {len(resume.records)}" if resume else "") + f"; {phases.text()}", file=sys.stderr)

    files = SideFiles(prog)
    with Stop() as stop:  # from the first step on, Ctrl-C and SIGTERM wait for a step boundary
        run = CommandLineRun(stop, files, Progress(config.total_steps, backend.name, config.scales.count,
                                                   done=len(resume.records) if resume else 0),
                             output=output, save_every=args.save_every, log=args.log, checkpoint=args.checkpoint,
                             checkpoint_every=args.checkpoint_every, identity=ident, start=resume)
        try:
            transfer(backend, content, styles, config, run)
        finally:
            run.close()
        stop.defer()  # the picture is made: a signal now waits until it is written
        try:
            save_image(run.picture, output)
        except KeyboardInterrupt:  # a second signal: the write is abandoned whole (it is atomic)
            print(f"{prog}: interrupted while writing {output}; it was not written", file=sys.stderr)
            return INTERRUPTED
        except OSError as exc:
            kept = (f"; the checkpoint {args.checkpoint} holds the run: --resume it with a writable --output"
                    if args.checkpoint and "checkpoint" not in files.failed else "")
            print(f"{prog}: error: cannot write the result {output} ({exc.strerror or exc}){kept}", file=sys.stderr)
            return BAD_INPUT
        if args.plot and run.records and stop.requested is None:
            files.write("plot", args.plot,
                        lambda: plot_losses(run.records, args.plot, f"{backend.framework}, {config.sizes_text()}"))
    if stop.requested is not None and run.finished:  # a signal while the picture was written
        run.ending = Ending(Kind.INTERRUPTED, f"interrupted ({stop.requested}) after all {len(run.records)} steps; "
                                              f"saved the image")
    return _report(run, output, prog, args.checkpoint if "checkpoint" not in files.failed else None)


def _report(run: Run, output: Path, prog: str, checkpoint_path: Optional[str]) -> int:
    """The ending in one line (unless finished), the summary line, and the exit status."""
    kind = run.ending.kind
    if kind is not Kind.FINISHED:
        resumable = (f"; checkpoint {checkpoint_path} (continue with --resume {checkpoint_path})"
                     if checkpoint_path and kind is not Kind.NOT_FINITE else "")
        word = "error" if kind is Kind.OUT_OF_MEMORY else "stopped"
        print(f"{prog}: {word}: {run.ending.message}{resumable}", file=sys.stderr)
    print(summary_line(run, output))
    return EXIT_STATUS[kind]
