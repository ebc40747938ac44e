#!/usr/bin/env python
"""Stylise a whole collection: every content x style pair, on this machine or a Ray cluster.

    python scripts/batch.py --content photos/ --style paintings/ --out stylized/
    python scripts/batch.py --pairs pairs.csv --out stylized/ --address auto --recipe fast

The program is common/tools/batch/main.py (installed as the command ``style-transfer-batch``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

from common.tools.batch.main import build_parser, main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
