#!/usr/bin/env python
"""Make the README's pictures with a trained network, in both backends:

    python scripts/pictures.py --weights ../shared/weights/hed-vgg16-bsds500.weights.h5 \
        --content rainier.jpg --style autumn-oak.jpg --out docs/pictures

The program is common/tools/gallery/main.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

if __name__ == "__main__":  # signals guarded from here, before the imports that take a second
    from common.tools.entry import start

    sys.exit(start("pictures.py", "common.tools.gallery.main"))

from common.tools.gallery.main import build_parser, main  # noqa: E402,F401
