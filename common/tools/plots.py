"""Every figure the project draws: a run's loss curves, the two backends' trajectories and the
gap between them, and a heat map of two pictures' difference. Matplotlib is imported only here,
on its file-only backend (no display is needed or opened)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..files import atomic_path
from ..transfer import StepRecord
from .measure import relative_gap


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike[str]) -> Path:
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".").lower() or "png")
    finally:
        _pyplot().close(fig)
    return Path(path)


def plot_losses(records: Sequence[StepRecord], path: str | os.PathLike[str], title: str = "") -> Path:
    """Each weighted term and the total against the step, on a log scale."""
    plt = _pyplot()
    steps = [r.step for r in records]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for name in ("total", "content", "style", "tv"):
        values = [getattr(r, name) for r in records]
        if any(v > 0 for v in values):
            ax.plot(steps, values, label=name, linewidth=2 if name == "total" else 1.2)
    # Each size's first step: a dotted line before it and the size beside it.
    starts = [r for i, r in enumerate(records) if i == 0 or r.scale != records[i - 1].scale]
    for record in starts if len(starts) > 1 else []:
        if record is not records[0]:
            ax.axvline(record.step - 0.5, color="gray", linestyle=":", linewidth=1)
        ax.annotate(f"{record.height}x{record.width}", (record.step, 1), xycoords=("data", "axes fraction"),
                    xytext=(3, -12), textcoords="offset points", fontsize=8, color="gray")
    ax.set(yscale="log", xlabel="step", ylabel="weighted loss", title=title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return _save(fig, path)


def plot_trajectories(runs: dict[str, dict[str, Any]], path: Path, reference: str) -> Path:
    """Left: total loss per step for every (mode, backend); right: relative gap to ``reference``."""
    plt = _pyplot()
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
    return _save(fig, path)


def plot_difference(a: np.ndarray, b: np.ndarray, path: Path, title: str) -> Path:
    plt = _pyplot()
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean(axis=2)
    h, w = diff.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 6 * w / max(h, w)) + 1.2, max(3.0, 6 * h / max(h, w))), dpi=100)
    shown = ax.imshow(diff, cmap="magma", vmin=0)
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(shown, ax=ax, label="mean |difference| over RGB, [0, 1] scale")
    return _save(fig, path)
