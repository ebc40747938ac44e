"""Which pictures a batch makes: the content and style files (given one by one, as folders, or
as a CSV of pairs), the pairing rule, and each pair's output name. The output folder's own files
are never inputs, and everything here is linear in the number of pairs (200k pairs are planned
in well under a second)."""
from __future__ import annotations

import csv
import hashlib
import itertools
from collections import Counter
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


def find_images(paths: Sequence[str], what: str, out: Optional[Path] = None) -> list[Path]:
    """Files as given; a folder's readable images (by extension, hidden files skipped), sorted.
    Nothing in the output folder ``out`` is taken (see :func:`check_not_output`)."""
    suffixes = _readable_suffixes()
    found: list[Path] = []
    for text in paths:
        path = Path(text).expanduser()
        if path.is_dir():
            check_not_output(path, out, f"--{what} {path}", is_folder=True)
            # Files only: an --out folder inside this one is a folder, so never listed.
            inside = sorted(p for p in path.iterdir()
                            if p.is_file() and p.suffix.lower() in suffixes and not p.name.startswith("."))
            if not inside:
                raise UserError(f"--{what} {path}: the folder holds no image files")
            found += inside
        elif path.is_file():
            check_not_output(path.parent, out, f"--{what} {path}")
            found.append(path)
        else:
            raise UserError(f"--{what} {path}: no such file or folder")
    return found


def check_not_output(folder: Path, out: Optional[Path], what: str, is_folder: bool = False) -> None:
    """Refuse inputs in the folder the batch writes its pictures to: they would be the next run's
    contents (``rainier__autumn-oak__autumn-oak.png``). A folder inside ``out`` is the user's own."""
    if out is not None and _same_folder(folder, out):
        raise UserError(f"{what} {'is' if is_folder else 'is in'} the --out folder, where the batch writes its "
                        f"pictures, which would become the next run's inputs: give another --out")


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def read_pairs_csv(path: str, out: Optional[Path] = None) -> list[tuple[Path, Path]]:
    """Rows of ``content,style`` (a header row naming them is optional); relative paths are
    relative to the CSV file's folder; none may be in the output folder ``out``."""
    csv_path = Path(path).expanduser()
    if not csv_path.is_file():
        raise UserError(f"--pairs {csv_path}: no such file")
    try:
        rows = [row for row in csv.reader(csv_path.read_text(encoding="utf-8").splitlines()) if row]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"--pairs {csv_path} is not a CSV text file ({exc})") from None
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["content", "style"]:
        rows = rows[1:]
    pairs: list[tuple[Path, Path]] = []
    checked: set[Path] = set()
    for number, row in enumerate(rows, start=1):
        if len(row) < 2:
            raise UserError(f"--pairs {csv_path}, row {number}: needs two columns, content and style")
        content, style = (csv_path.parent / Path(c.strip()).expanduser() for c in row[:2])
        for image in (content, style):
            if not image.is_file():
                raise UserError(f"--pairs {csv_path}, row {number}: no such file {image}")
            if image.parent not in checked:  # a CSV of 200k rows names few folders: each resolved once
                check_not_output(image.parent, out, f"--pairs {csv_path}, row {number}: {image}")
                checked.add(image.parent)
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


def name_outputs(pairs: Sequence[tuple[Path, Path]], folder: Path, key: str = "", suffix: str = ".png") -> list[Pair]:
    """``CONTENT__STYLE.KEY.png``: ``key`` is the short key of what shapes the picture, so the
    pictures of other options never overwrite each other. Two pairs whose file names collide
    (the same names in different folders) get a short hash of their full paths."""
    stems = [f"{c.stem}__{s.stem}" for c, s in pairs]
    counts = Counter(stems)  # one pass: a count per pair (list.count) was quadratic
    tail = f".{key}{suffix}" if key else suffix
    out = []
    for (content, style), stem in zip(pairs, stems):
        if counts[stem] > 1:
            stem += "-" + hashlib.sha256(f"{content.resolve()}|{style.resolve()}".encode()).hexdigest()[:8]
        out.append(Pair(content, style, folder / f"{stem}{tail}"))
    seen: set[Path] = set()
    for pair in out:
        if pair.output in seen:
            raise UserError(f"the pair {pair.content} x {pair.style} is listed twice")
        seen.add(pair.output)
    return out
