"""The comparison's figures: the two backends' trajectories with the gap between them, and a
heat map of two pictures' difference."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..io.figures import pyplot, save_figure
from .measure import relative_gap


def plot_trajectories(runs: dict[str, dict[str, Any]], path: Path, reference: str) -> Path:
    """Left: total loss per step for every (mode, backend); right: relative gap to ``reference``."""
    plt = pyplot()
    fig, (ax, gap) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    styles = {"native": "-", "aligned": "--", "d2l": "-"}
    for mode, by_backend in runs.items():
        for name, run in by_backend.items():
            ax.plot(range(1, len(run.totals) + 1), run.totals, styles.get(mode, ":"), label=f"{name}, {mode}")
        if reference in by_backend:
            ref = by_backend[reference].totals
            for name, run in by_backend.items():
                if name != reference and len(run.totals) == len(ref):
                    rel = relative_gap(run.totals, ref)
                    gap.plot(range(1, len(rel) + 1), np.maximum(rel, 1e-12), styles.get(mode, ":"),
                             label=f"|{name} / {reference} - 1|, {mode}")
    ax.set(yscale="log", xlabel="step", ylabel="total loss", title="training trajectories")
    gap.set(yscale="log", xlabel="step", ylabel="relative difference", title="gap between the backends")
    for a in (ax, gap):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    return save_figure(fig, path)


def plot_difference(a: np.ndarray, b: np.ndarray, path: Path, title: str) -> Path:
    plt = pyplot()
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean(axis=2)
    h, w = diff.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 6 * w / max(h, w)) + 1.2, max(3.0, 6 * h / max(h, w))), dpi=100)
    shown = ax.imshow(diff, cmap="magma", vmin=0)
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(shown, ax=ax, label="mean |difference| over RGB, [0, 1] scale")
    return save_figure(fig, path)
