"""What a run tells its user: a progress bar with the current losses, a JSON-lines log
(one object per step), a plot of the loss curves, and one summary line."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, Optional, Sequence

from .transfer import StepRecord, TransferResult


class JsonlLog:
    """``{"step", "content", "style", "tv", "total", "lr", "seconds"}`` per line, flushed
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

    def __init__(self, total: int, description: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, desc=description, unit="step", file=sys.stderr,
                         dynamic_ncols=True, disable=None)

    def update(self, record: StepRecord) -> None:
        self._bar.set_postfix(total=f"{record.total:.4g}", content=f"{record.content:.3g}",
                              style=f"{record.style:.3g}", tv=f"{record.tv:.3g}", lr=f"{record.lr:.3g}",
                              refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def plot_losses(records: Sequence[StepRecord], path: str | os.PathLike[str], title: str = "") -> Path:
    """Each weighted term and the total against the step, on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r.step for r in records]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name in ("total", "content", "style", "tv"):
        values = [getattr(r, name) for r in records]
        if any(v > 0 for v in values):
            ax.plot(steps, values, label=name, linewidth=2 if name == "total" else 1.2)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted loss")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def summary_line(result: TransferResult, output: Optional[Path]) -> str:
    if not result.records:
        return f"no step finished; wrote {output}"
    last = result.records[-1]
    # The first step pays for warm-up (and compilation with --compile): reported apart.
    return (f"{len(result.records)} steps: content {last.content:.4g}, style {last.style:.4g}, "
            f"tv {last.tv:.4g}, total {last.total:.4g} (at step {last.step}); "
            f"{result.seconds_per_step:.3f} s/step (first step {result.records[0].seconds:.2f} s); wrote {output}")
