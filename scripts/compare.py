#!/usr/bin/env python
"""Run MXNet and PyTorch on identical inputs and write a report of every difference:

    python scripts/compare.py                    # the project's recipe, identical in both
    python scripts/compare.py --tabs             # each backend as its chapter tab writes it, plus ablation

The program is common/tools/compare/main.py (installed as the command ``style-transfer-compare``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("compare.py", "common.tools.compare.main"))

from common.tools.compare.main import build_parser, main  # noqa: E402,F401
