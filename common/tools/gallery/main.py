"""``pictures.py``: run.py's options, variant by variant, in each backend, in this process; each
picture a small JPEG, then a contact sheet of them with their captions and a CREDITS file.

The d2l photo and painting are CC BY-SA 4.0: pictures made from them carry that licence and the
credit, which CREDITS.md states beside them."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw

from common.images import fit_long_edge, resize_array, to_uint8
from common.registry import backend_names

from ..cli.exits import run_main
from ..cli.main import build_parser as run_parser
from ..cli.parsing import OneLineParser, whole
from ..cli.recipes import with_recipe
from ..cli.stylize import stylize
from ..io.downloads import sample_image
from ..io.files import atomic_path
from ..io.pictures import check_writable, load_rgb, save_image

PROG = "pictures.py"


@dataclass(frozen=True)
class Variant:
    name: str  # file stem
    caption: str
    options: tuple[str, ...]  # run.py's, beside --content/--style/--weights/--size/--backend


VARIANTS = (
    Variant("chapter", "the chapter's recipe (Adam, 500 steps)", ()),
    Variant("fast", "--recipe fast", ("--recipe", "fast")),
    Variant("lbfgs", "L-BFGS, 150 evaluations", ("--optimizer", "lbfgs", "--steps", "150")),
    Variant("luminance", "--recipe fast --preserve-colors luminance",
            ("--recipe", "fast", "--preserve-colors", "luminance")),
    Variant("histogram", "--recipe fast --preserve-colors histogram",
            ("--recipe", "fast", "--preserve-colors", "histogram")),
    Variant("blend", "--recipe fast, the painting blended 1:1 with rings.png", ("--recipe", "fast", "--style-blend", "1", "1")),
    # The chapter takes conv outputs: style conv1_1 ... conv5_1 and content the fourth block's last
    # conv (conv4_4 in VGG-19; conv4_3, VGG-16's last there).
    Variant("chapter-layers", "--recipe fast with the chapter's layers (conv outputs)",
            ("--recipe", "fast", "--style-layers", "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1",
             "--content-layers", "conv4_3")),
)


def rings(size: tuple[int, int]) -> np.ndarray:
    """A second style made here (no licence to carry): coloured rings and stripes."""
    height, width = size
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    r = np.hypot(yy - 0.5, xx - 0.35)
    image = np.stack([0.5 + 0.5 * np.sin(40 * r), 0.5 + 0.5 * np.sin(25 * r + 2 * xx * 6),
                      0.5 + 0.5 * np.cos(18 * (xx + yy))], axis=-1)
    return image.astype(np.float32)


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="Make the README's pictures with run.py's options, in each backend.")
    p.add_argument("--weights", required=True, help="a trained network's weights file (any format run.py reads)")
    p.add_argument("--content", help="content photo (default: the chapter's rainier.jpg)")
    p.add_argument("--style", help="style painting (default: the chapter's autumn-oak.jpg)")
    p.add_argument("--size", nargs=2, type=whole, default=(200, 300), metavar=("H", "W"), help="each picture's size")
    p.add_argument("--out", default="docs/pictures", help="folder for the JPEGs, the sheet and CREDITS.md")
    p.add_argument("--backends", default=",".join(backend_names()), help="comma-separated backend names")
    p.add_argument("--only", nargs="+", choices=[v.name for v in VARIANTS], help="some of the variants")
    p.add_argument("--quick", type=whole, default=1, metavar="N",
                   help="divide every step count by N (a test's tiny run)")
    return p


def _options(variant: Variant, quick: int) -> list[str]:
    options = list(variant.options)
    if quick > 1:
        for flag, default in (("--steps", 500), ("--scale-steps", 50)):
            if flag in options:
                i = options.index(flag) + 1
                options[i] = str(max(1, int(options[i]) // quick))
            else:
                options += [flag, str(max(1, default // quick))]
    return options


def make(args: argparse.Namespace, say) -> int:
    out = Path(args.out)
    check_writable(out / "sheet.jpg")
    content = Path(args.content or sample_image("content"))
    style = Path(args.style or sample_image("style"))
    second = out / "rings.png"
    save_image(rings(tuple(args.size)), second)
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    variants = [v for v in VARIANTS if not args.only or v.name in args.only]
    made: dict[tuple[str, str], dict] = {}
    for backend in names:
        for variant in variants:
            path = out / f"{variant.name}-{backend}.jpg"
            styles = [str(style), str(second)] if variant.name == "blend" else [str(style)]
            argv = ["--backend", backend, "--weights", args.weights, "--content", str(content), "--style", *styles,
                    "--size", *map(str, args.size), "--device", "cpu", "--output", str(path),
                    *_options(variant, args.quick)]
            say(f"{backend}: {variant.caption}")
            started = time.perf_counter()
            parsed = with_recipe(run_parser(), argv).parse_args(argv)
            summary = io.StringIO()
            with contextlib.redirect_stdout(summary):
                status = stylize(parsed, PROG)
            if status != 0:
                return status
            made[(backend, variant.name)] = {"caption": variant.caption, "file": path.name,
                                             "seconds": round(time.perf_counter() - started, 1),
                                             "summary": summary.getvalue().strip()}
    _sheet(out, content, style, made, names, variants, tuple(args.size))
    _credits(out, args, made)
    return 0


def _sheet(out: Path, content: Path, style: Path, made: dict, names: Sequence[str], variants, size) -> Path:
    """Inputs on the first row, then a row per backend, a caption under each picture."""
    height, width = size
    label = 16
    cols = max(2, len(variants))
    sheet = Image.new("RGB", (cols * width, (1 + len(names)) * (height + label)), "white")
    draw = ImageDraw.Draw(sheet)
    inputs = [("content", load_rgb(content)), ("style", load_rgb(style))]
    for col, (caption, pixels) in enumerate(inputs):
        fitted = resize_array(pixels, fit_long_edge(pixels.shape[:2], max(size)))[:height, :width]
        sheet.paste(Image.fromarray(to_uint8(fitted)), (col * width, 0))
        draw.text((col * width + 3, height + 2), caption, fill="black")
    for row, backend in enumerate(names, start=1):
        for col, variant in enumerate(variants):
            entry = made.get((backend, variant.name))
            if entry is None:
                continue
            with Image.open(out / entry["file"]) as picture:
                sheet.paste(picture.convert("RGB"), (col * width, row * (height + label)))
            draw.text((col * width + 3, row * (height + label) + height + 2), f"{backend}: {variant.name}", fill="black")
    path = out / "sheet.jpg"
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="JPEG", quality=85)
    return path


def _credits(out: Path, args: argparse.Namespace, made: dict) -> None:
    lines = ["# The pictures here", "",
             "Made by `python scripts/pictures.py` (common/tools/gallery/main.py) with run.py's options, "
             f"at {args.size[0]}x{args.size[1]}, the weights `{Path(args.weights).name}`.", "",
             "Inputs: the photo and the painting of the *Dive into Deep Learning* chapter \"Neural Style Transfer\" "
             "(`rainier.jpg`, `autumn-oak.jpg`, d2l-ai/d2l-en, CC BY-SA 4.0). The pictures made from them are "
             "derived works under the same licence, CC BY-SA 4.0, credit: Dive into Deep Learning "
             "(Zhang, Lipton, Li and Smola). `rings.png` (the second style of `blend`) is made by the script. "
             "The contact sheet, `sheet.jpg`, shows the photo and the painting themselves: keep it out of a "
             "repository.", "",
             "| picture | what | seconds | the run's summary |", "|---|---|---|---|"]
    for (backend, _), entry in made.items():
        lines.append(f"| `{entry['file']}` | {backend}: {entry['caption']} | {entry['seconds']} | "
                     f"{entry['summary'].replace('|', '/')} |")
    with atomic_path(out / "CREDITS.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with atomic_path(out / "pictures.json") as tmp:
        tmp.write_text(json.dumps({f"{b}/{v}": e for (b, v), e in made.items()}, indent=1), encoding="utf-8")


def main(argv: Optional[Sequence[str]] = None) -> int:
    def say(text: str) -> None:
        print(f"{PROG}: {text}", file=sys.stderr, flush=True)

    return run_main(PROG, build_parser(), lambda args: make(args, say), argv)
