#!/usr/bin/env python
"""Measure the backends, one subcommand per measurement (``speed`` when none is named):

    python scripts/bench.py                                   # speed: every backend, 150x225 and 300x450
    python scripts/bench.py speed --backends torch --sizes 300x450 --steps 10 --json bench.json
    python scripts/bench.py quality --sizes 300x450           # time to the chapter's picture quality
    python scripts/bench.py memory                            # re-measure and re-fit the memory check
    python scripts/bench.py batch --pairs 8                   # pictures per minute, run.py vs batch.py

The program is common/tools/bench/main.py (installed as the command ``style-transfer-bench``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("bench.py", "common.tools.bench.main"))

from common.tools.bench.main import build_parser, main  # noqa: E402,F401
