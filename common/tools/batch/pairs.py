"""Which pictures a batch makes: the content and style files (given one by one, as folders, or
as a CSV of pairs), the pairing rule, and each pair's output name."""
from __future__ import annotations

import csv
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PIL import Image

from common.errors import UserError

PAIRINGS = ("all", "zip", "random")


@dataclass(frozen=True)
class Pair:
    content: Path
    style: Path
    output: Path


def _readable_suffixes() -> set[str]:
    Image.init()
    return {suffix for suffix, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def find_images(paths: Sequence[str], what: str) -> list[Path]:
    """Files as given; a folder's readable images (by extension, hidden files skipped), sorted."""
    suffixes = _readable_suffixes()
    found: list[Path] = []
    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
            if not inside:
                raise UserError(f"--{what} {path}: the folder holds no image files")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"--{what} {path}: no such file or folder")
    return found


def read_pairs_csv(path: str) -> list[tuple[Path, Path]]:
    """Rows of ``content,style`` (a header row naming them is optional); relative paths are
    relative to the CSV file's folder."""
    csv_path = Path(path).expanduser()
    if not csv_path.is_file():
        raise UserError(f"--pairs {csv_path}: no such file")
    try:
        rows = [row for row in csv.reader(csv_path.read_text(encoding="utf-8").splitlines()) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--pairs {csv_path} is not a CSV text file ({exc})") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["content", "style"]:
        rows = rows[1:]
    pairs = []
    for number, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise UserError(f"--pairs {csv_path}, row {number}: needs two columns, content and style")
        content, style = (csv_path.parent / Path(c.strip()).expanduser() for c in row[:2])
        for image in (content, style):
            if not image.is_file():
                raise UserError(f"--pairs {csv_path}, row {number}: no such file {image}")
        pairs.append((content, style))
    if not pairs:
        raise UserError(f"--pairs {csv_path} holds no pairs")
    return pairs


def pair_up(contents: Sequence[Path], styles: Sequence[Path], rule: str, count: Optional[int] = None,
            seed: int = 0) -> list[tuple[Path, Path]]:
    """all: every content with every style; zip: the i-th with the i-th; random: ``count``
    different pairs drawn from all of them, the same for the same seed."""
    if rule == "all":
        return list(itertools.product(contents, styles))
    if rule == "zip":
        if len(contents) != len(styles):
            raise UserError(f"--pairing zip needs as many styles as contents, not {len(styles)} and {len(contents)}")
        return list(zip(contents, styles))
    if rule == "random":
        every = len(contents) * len(styles)
        if count is None or not 1 <= count <= every:
            raise UserError(f"--pairing random needs --count between 1 and {every} (contents x styles), not {count}")
        picks = np.random.default_rng(seed).choice(every, size=count, replace=False)
        return [(contents[i // len(styles)], styles[i % len(styles)]) for i in sorted(picks)]
    raise UserError(f"unknown --pairing {rule!r}: use {', '.join(PAIRINGS)}")


def name_outputs(pairs: Sequence[tuple[Path, Path]], folder: Path, suffix: str = ".png") -> list[Pair]:
    """``CONTENT__STYLE.png``; two pairs whose file names collide (the same names in different
    folders) get a short hash of their full paths."""
    stems = [f"{c.stem}__{s.stem}" for c, s in pairs]
    out = []
    for (content, style), stem in zip(pairs, stems):
        if stems.count(stem) > 1:
            stem += "-" + hashlib.sha256(f"{content.resolve()}|{style.resolve()}".encode()).hexdigest()[:8]
        out.append(Pair(content, style, folder / f"{stem}{suffix}"))
    seen: set[Path] = set()
    for pair in out:
        if pair.output in seen:
            raise UserError(f"the pair {pair.content} x {pair.style} is listed twice")
        seen.add(pair.output)
    return out
