#!/usr/bin/env python
"""A local web page for style transfer: upload a photo and paintings, run MXNet, PyTorch or both
side by side, watch the pictures and losses, stop, resume, download:

    python scripts/web.py                 # then open http://127.0.0.1:8770/

The program is common/tools/web/main.py (installed as the command ``style-transfer-web``).
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("web.py", "common.tools.web.main"))

from common.tools.web.main import build_parser, main  # noqa: E402,F401 - build_parser: for tests and docs
