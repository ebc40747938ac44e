"""A run's loss curves (``run.py --plot``): each weighted term and the total against the step."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from common.records import StepRecord

from ..io.figures import pyplot, save_figure


def plot_losses(records: Sequence[StepRecord], path: str | os.PathLike[str], title: str = "") -> Path:
    """Each weighted term and the total against the step, on a log scale."""
    plt = pyplot()
    steps = [r.step for r in records]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name in ("total", "content", "style", "tv"):
        values = [getattr(r, name) for r in records]
        if any(v > 0 for v in values):
            ax.plot(steps, values, label=name, linewidth=2 if name == "total" else 1.2)
    # Each size's first step: a dotted line before it and the size beside it.
    starts = [r for i, r in enumerate(records) if i == 0 or r.size_index != records[i - 1].size_index]
    for record in starts if len(starts) > 1 else []:
        if record is not records[0]:
            ax.axvline(record.step - 0.5, color="gray", linestyle=":", linewidth=1)
        ax.annotate(f"{record.height}x{record.width}", (record.step, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=8, color="gray")
    ax.set(yscale="log", xlabel="step", ylabel="weighted loss", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return save_figure(fig, path)
