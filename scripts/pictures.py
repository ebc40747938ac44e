#!/usr/bin/env python
"""Make the README's pictures with a trained network, in both backends:

    python scripts/pictures.py --weights ../shared/weights/hed-vgg16-bsds500.weights.h5 \
        --content rainier.jpg --style autumn-oak.jpg --out docs/pictures

The program is common/tools/gallery/main.py.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runnable from a clone without installing

from common.tools.gallery.main import build_parser, main  # noqa: E402,F401

if __name__ == "__main__":
    sys.exit(main())
