"""Figures written to files: matplotlib on its file-only backend (no display is needed or
opened), saved atomically in the format the file name says."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from .files import atomic_path


def config_dir() -> None:
    """Where matplotlib keeps its font cache, made usable first: with an unwritable or odd HOME it
    would print two lines of advice on stderr and build its cache afresh; a private folder instead."""
    if os.environ.get("MPLCONFIGDIR"):
        return
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    wanted = os.path.join(home, "matplotlib")
    try:
        os.makedirs(wanted, exist_ok=True)
        if os.access(wanted, os.W_OK):
            return
    except OSError:
        pass
    os.environ["MPLCONFIGDIR"] = folder = tempfile.mkdtemp(prefix="style-transfer-matplotlib-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported only when a figure is drawn."""
    config_dir()
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
