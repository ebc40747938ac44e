#!/usr/bin/env python
"""Neural style transfer (Gatys et al. 2016) from the command line, with either backend:

    python scripts/run.py --backend torch
    python scripts/run.py --backend mxnet --content photo.jpg --style painting.jpg --size 300 450

The program is common/tools/cli/main.py (installed as the command ``style-transfer``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("run.py", "common.tools.cli.main"))

from common.tools.cli.main import build_parser, main  # noqa: E402,F401 - build_parser: for tests and docs
