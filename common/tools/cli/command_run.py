"""The command line's :class:`~common.run.Run`: a progress bar, the JSON-lines log, snapshots
every ``--save-every`` steps, checkpoints on disk, and Ctrl-C or SIGTERM as a stop at the next
step boundary. A side file that fails to write warns once and the run goes on without it."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import numpy as np

from common.errors import shown
from common.records import Checkpoint, StepRecord
from common.run import Run

from ..io import checkpoints
from ..io.pictures import save_image
from .progress import JsonlLog, Progress
from .signals import Stop


def snapshot_path(output: Path, step: int) -> Path:
    """The image whose losses the log gives at ``step`` (the image before update ``step``)."""
    return output.with_name(f"{output.stem}_step{step:04d}{output.suffix}")


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
            print(f"{self.prog}: warning: cannot write the {kind} {shown(path)} ({shown(exc.strerror or exc)}); "
                  f"the run goes on without it", file=sys.stderr)
            return False


class CommandLineRun(Run):
    """What ``run.py`` shows and writes while the loop runs; ``stop`` turns signals into a stop."""

    def __init__(self, stop: Stop, files: SideFiles, progress: Progress, *, output: Path, save_every: int = 0,
                 log: Optional[str] = None, checkpoint: Optional[str] = None, checkpoint_every: int = 0,
                 identity: Mapping[str, Any] = {}, start: Optional[Checkpoint] = None) -> None:
        super().__init__(start, checkpoint_every)
        self.stop, self.files, self.progress = stop, files, progress
        self.output, self.save_every, self.checkpoint_path, self.identity = output, save_every, checkpoint, identity
        self.keeps_checkpoints = checkpoint is not None
        self.log_path, self.log = log, None
        if log:
            self.files.write("log", log, self._open_log)
        if start is not None:
            stop.defer()  # the checkpoint's image is there to keep from the start

    def _open_log(self) -> None:
        self.log = JsonlLog(self.log_path)
        for record in self.records:  # a resumed run's log holds the whole run
            self.log.write(record)

    def on_step(self, record: StepRecord, picture: Callable[[], np.ndarray]) -> None:
        self.stop.defer()  # there is an image to keep now
        self.progress.update(record)
        if self.log is not None:
            self.files.write("log", self.log_path, lambda: self.log.write(record))
        if self.save_every and record.step % self.save_every == 0:
            path = snapshot_path(self.output, record.step)
            self.files.write("snapshot", path, lambda: save_image(picture(), path))

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.files.write("checkpoint", self.checkpoint_path,
                         lambda: checkpoints.save(self.checkpoint_path, checkpoint, self.identity))

    def stop_reason(self) -> Optional[str]:
        return self.stop.requested or super().stop_reason()

    def close(self) -> None:
        self.progress.close()
        if self.log is not None:
            self.log.close()
