"""One run of the page, as run.py would make it: the page's choices become run.py's own command
line, parsed by run.py's parser and checked by its preflight (so a bad setting is the same one
line), then the same steps as ``cli/stylize.py``, on a thread, with a :class:`WebRun` that sends
each step to the page and keeps the checkpoint. Two runs started together (both backends) go
step by step in lockstep, so that each step's pictures can be compared."""
from __future__ import annotations

import argparse
import base64
import io
import json
import math
import shlex
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from common.errors import UserError, shown
from common.records import Checkpoint, StepRecord
from common.registry import load_backend
from common.run import Kind, Run
from common.transfer import transfer

from ..cli import preflight
from ..cli.main import build_parser
from ..cli.memory import available_gib, check_fits
from ..cli.options import execution_from, in_flags
from ..cli.recipes import with_recipe
from ..cli.stylize import input_paths, run_identity
from ..io import checkpoints
from ..io.pictures import load_rgb, save_image
from ..io.weights import load_weights

Send = Callable[[dict], None]
FRAMES_PER_SECOND = 8  # pictures sent to the page; every step's numbers are sent
FRAMEWORK_LOCKS = {"torch": threading.Lock(), "mxnet": threading.Lock()}  # one run per framework at a time


class PageError(UserError):
    """What run.py's parser would refuse, as a message for the page instead of an exit."""


def parse(argv: list[str]) -> argparse.Namespace:
    """run.py's options from ``argv``, refused in run.py's one line."""
    def refuse(message: str) -> None:
        raise PageError(message)

    parser = build_parser()
    parser.error = refuse  # type: ignore[method-assign]
    parser = with_recipe(parser, argv)
    parser.error = refuse  # type: ignore[method-assign]
    return parser.parse_args(argv)


def message(exc: BaseException) -> str:
    return shown(in_flags(exc)) if isinstance(exc, Exception) else type(exc).__name__


def preview(picture: np.ndarray) -> str:
    """The picture as a JPEG data URL, for the page to show (the download is the PNG)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(np.clip(picture, 0, 1) * 255).astype(np.uint8)).save(buffer, "JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def psnr(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    """In dB, for pictures in [0, 1]; None where they are identical (infinite)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return None if mse == 0 else 10 * math.log10(1 / mse)


class Pair:
    """Two runs in lockstep: after each step both wait, then the step's difference is sent. A stop
    is decided between the two waits, so both stop after the same step (and resume in step)."""

    def __init__(self, send: Send) -> None:
        self.send, self.barrier, self.latest = send, threading.Barrier(2), {}
        self.requested: Optional[str] = None  # asked from the page, at any time
        self.decided: Optional[str] = None  # what both runs act on after this step

    def step(self, name: str, record: StepRecord, picture: np.ndarray) -> None:
        self.latest[name] = (record, picture)
        try:
            index = self.barrier.wait(timeout=600)
        except threading.BrokenBarrierError:  # the other run has ended: go on alone
            return
        if index == 0:
            (a, pa), (b, pb) = self.latest.values()
            if a.step == b.step:
                rel = abs(a.total - b.total) / max(abs(a.total), abs(b.total), 1e-30)
                self.send({"type": "diff", "step": a.step, "relative": rel, "psnr": psnr(pa, pb)})
            self.decided = self.requested
        try:
            self.barrier.wait(timeout=600)  # neither moves on before the difference is taken
        except threading.BrokenBarrierError:
            pass

    def leave(self) -> None:
        self.barrier.abort()


class WebRun(Run):
    """Sends every step's numbers (and a few pictures a second) to the page; keeps checkpoints."""

    def __init__(self, job: "Job", start: Optional[Checkpoint]) -> None:
        super().__init__(start, checkpoint_every=job.args.checkpoint_every)
        self.job, self.keeps_checkpoints, self.last_frame = job, True, 0.0

    def on_step(self, record: StepRecord, picture: Callable[[], np.ndarray]) -> None:
        import psutil

        job = self.job
        message = {"type": "step", "run": job.name, **record.__dict__, "planned": self.planned,
                   "memory_gib": psutil.Process().memory_info().rss / 2**30}
        need = job.pair is not None or time.monotonic() - self.last_frame >= 1 / FRAMES_PER_SECOND \
            or record.step == self.planned
        image = picture() if need else None
        if image is not None and (time.monotonic() - self.last_frame >= 1 / FRAMES_PER_SECOND
                                  or record.step == self.planned):
            message["image"], self.last_frame = preview(image), time.monotonic()
        job.send(message)
        for hook in job.hooks:
            hook(self, record)
        if job.pair is not None:
            job.pair.step(job.name, record, image)

    def stop_reason(self) -> Optional[str]:
        pair = self.job.pair
        if pair is not None and not pair.barrier.broken:
            return pair.decided
        return super().stop_reason()

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        checkpoints.save(self.job.checkpoint, checkpoint, self.job.identity)


class Job:
    """One backend's run in its own folder: picture.png, options.json, checkpoint.npz."""

    FILES = ("picture.png", "options.json", "checkpoint.npz")

    def __init__(self, name: str, argv: list[str], shown_argv: list[str], folder: Path, send: Send,
                 resume: bool = False) -> None:
        self.name, self.folder, self.send = name, folder, send
        self.checkpoint, self.output = folder / "checkpoint.npz", folder / "picture.png"
        self.shown_argv = shown_argv  # the command line with the uploads' own names, for options.json
        extra = ["--output", str(self.output), "--checkpoint", str(self.checkpoint)]
        self.args = parse(argv + extra + (["--resume", str(self.checkpoint)] if resume else []))
        self.pair: Optional[Pair] = None
        self.hooks: list[Callable[[WebRun, StepRecord], None]] = []  # tests stop a run at a chosen step
        self.run: Optional[WebRun] = None
        self.identity: dict[str, Any] = {}
        self._stop: Optional[str] = None
        self.thread = threading.Thread(target=self._main, name=f"web-{name}", daemon=True)

    def stop(self, reason: str = "stopped from the page") -> None:
        self._stop = reason
        if self.pair is not None:
            self.pair.requested = reason
        if self.run is not None:
            self.run.request_stop(reason)

    def _main(self) -> None:
        try:
            self._work()
        except (UserError, MemoryError) as exc:
            self.send({"type": "error", "run": self.name, "text": message(exc)})
        except Exception as exc:  # a bug: said on the page, not lost in a thread
            self.send({"type": "error", "run": self.name, "text": f"internal error: {type(exc).__name__}: {exc}"})
        finally:
            if self.pair is not None:
                self.pair.leave()

    def _work(self) -> None:
        args = self.args
        config, weights = preflight.check_run(args)  # run.py's own checks, before anything is loaded
        resume = None
        if args.resume:
            resume, saved = checkpoints.load(args.resume, config)
        content_path, style_paths = input_paths(args)
        content, styles = load_rgb(content_path), [load_rgb(p) for p in style_paths]
        with FRAMEWORK_LOCKS[args.backend]:  # a framework's Python side is not for two threads at once
            if self._stop:
                return
            backend_class = load_backend(args.backend)
            preflight.check_capabilities(args, backend_class)
            if not weights:
                weights = load_weights(args.weights, args.network, args.seed, args.weights_convention)
            needed = check_fits(backend_class, config, content, styles, device=args.device, precision=args.precision,
                               size_spec=args.size)
            free = available_gib(args.backend)
            self.send({"type": "verdict", "run": self.name, "text": (
                f"memory check: about {needed:.2f} GiB needed, {free:.1f} GiB free" if needed is not None and free
                else "memory check: no estimate for this combination")})
            self.identity = run_identity(args, config, backend_class.framework, content_path, style_paths, weights)
            if resume is not None:
                checkpoints.check_same(saved, self.identity, resume, config, args.resume)
            with backend_class.errors():
                backend = backend_class(weights, last_layer=config.last_layer, device=args.device,
                                        execution=execution_from(args))
            self.run = WebRun(self, resume)
            if self._stop:
                self.run.request_stop(self._stop)
            self.send({"type": "started", "run": self.name, "framework": backend.framework,
                       "planned": config.total_steps, "describe": config.describe()})
            transfer(backend, content, styles, config, self.run)
        save_image(self.run.picture, self.output)
        self._write_options(content_path, style_paths)
        ending = self.run.ending
        self.send({"type": "ended", "run": self.name, "kind": ending.kind.value, "text": ending.message,
                   "resumable": ending.kind is Kind.INTERRUPTED and self.checkpoint.is_file(),
                   "image": preview(self.run.picture), "files": [f for f in self.FILES if (self.folder / f).is_file()]})

    def _write_options(self, content: Path, styles: list[Path]) -> None:
        from ..io.downloads import sha256_of

        argv = self.shown_argv + ["--output", "picture.png"]
        text = json.dumps({"command": "style-transfer " + " ".join(map(shlex.quote, argv)), "argv": argv,
                           "sha256": {"content": sha256_of(content), "style": [sha256_of(s) for s in styles]},
                           "steps_done": len(self.run.records), "ending": self.run.ending.message}, indent=2)
        (self.folder / "options.json").write_text(text + "\n", encoding="utf-8")
