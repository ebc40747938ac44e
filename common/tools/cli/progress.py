"""What a run tells its user while and after it runs: a progress bar with the current losses,
a JSON-lines log (one object per step) and one summary line (the loss plot is in plots.py)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Optional

from common.records import StepRecord
from common.run import Kind, Run


class JsonlLog:
    """``{"step", "content", "style", "tv", "total", "lr", "seconds", "size_index", "height", "width",
    "elapsed"}`` per line (``lr`` null for L-BFGS), flushed
    each step so that a log of an interrupted run is still complete up to its last step."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: IO[str] = open(self.path, "w", encoding="utf-8")

    def write(self, record: StepRecord) -> None:
        self._file.write(json.dumps(record.as_dict()) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class Progress:
    """A tqdm bar on stderr (hidden when stderr is not a terminal)."""

    def __init__(self, total: int, description: str, scales: int = 1, done: int = 0) -> None:
        from tqdm import tqdm

        self._scales = scales
        self._bar = tqdm(total=total, initial=done, desc=description, unit="step", file=sys.stderr,
                         dynamic_ncols=True, disable=None)

    def update(self, record: StepRecord) -> None:
        where = {"size": f"{record.size_index}/{self._scales} {record.height}x{record.width}"} if self._scales > 1 else {}
        rate = {"lr": f"{record.lr:.3g}"} if record.lr is not None else {}
        self._bar.set_postfix(**where, total=f"{record.total:.4g}", content=f"{record.content:.3g}",
                              style=f"{record.style:.3g}", tv=f"{record.tv:.3g}", **rate, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def summary_line(result: Run, output: Optional[Path]) -> str:
    if not result.records:
        return f"no step finished; wrote {output}"
    last = result.records[-1]
    # The first step pays for warm-up (and compilation with --compile): reported apart.
    picture = (f"the picture as saved (clipped to [0, 1]): total {result.picture_loss.total:.4g}" if result.picture_loss
               else "the picture's loss was not computed" if result.ending.kind in (Kind.INTERRUPTED, Kind.OUT_OF_MEMORY)
               else "the picture's loss is not finite")
    notes = "".join(f"; {note}" for note in result.notes)
    return (f"{len(result.records)} steps{notes}: content {last.content:.4g}, style {last.style:.4g}, "
            f"tv {last.tv:.4g}, total {last.total:.4g} (logged at step {last.step}); {picture}; "
            f"{result.seconds_per_step:.3f} s/step (first step {result.records[0].seconds:.2f} s); "
            f"{last.elapsed:.1f} s in all; wrote {output}")
