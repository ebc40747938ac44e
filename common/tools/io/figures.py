"""Figures written to files: matplotlib on its file-only backend (no display is needed or
opened), saved atomically in the format the file name says."""
from __future__ import annotations

import os
from pathlib import Path

from .files import atomic_path


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike[str]) -> Path:
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip(".").lower() or "png")
    finally:
        pyplot().close(fig)
    return Path(path)
