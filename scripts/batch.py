#!/usr/bin/env python
"""Stylise a whole collection: every content x style pair, on this machine or a Ray cluster.

    python scripts/batch.py --content photos/ --style paintings/ --out stylized/
    python scripts/batch.py --pairs pairs.csv --out stylized/ --address auto --recipe fast

The program is common/tools/batch/main.py (installed as the command ``style-transfer-batch``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("batch.py", "common.tools.batch.main"))

from common.tools.batch.main import build_parser, main  # noqa: E402,F401
