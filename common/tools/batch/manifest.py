"""The batch's manifest, ``OUT/manifest.jsonl``: one JSON line per pair run, appended and synced
as each pair ends, so a crash loses nothing finished.

A pair is done when the latest line for its (content hash, style hash, options key) says
``done`` and names the picture this run would write, and that picture is still there. The
options key (:func:`options_key`) is a hash of everything that shapes the picture, and the
picture's name carries it, so the pictures of two option sets are two files.

Read tolerantly: a line that is not UTF-8, not JSON, or not a row of the right types (a crash
cut it short, an editor broke it) is skipped and counted, never a traceback; its pair, if it was
one, simply runs again. Each row is written after a newline, added first if the file does not
end in one, so a half-written line never swallows the next row.

One driver at a time holds a folder (:func:`hold`, a ``filelock`` on ``OUT/.batch.lock``): two
on the same folder would both run every pair and interleave their rows."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from filelock import FileLock, Timeout

from common.errors import UserError

from ..io.downloads import sha256_of

KEY_LENGTH = 16  # hex digits of the options key in the manifest
NAME_KEY_LENGTH = 8  # ... and in a picture's name: 4 billion option sets per pair before two meet
STATUSES = ("done", "failed")
Key = tuple[str, str, str]
LOCK = ".batch.lock"  # hidden: never listed as an image


@contextlib.contextmanager
def hold(folder: Path, prog: str = "batch.py") -> Iterator[None]:
    """This process alone works in ``folder`` while the block runs; another that holds it is one
    line (exit 2). The lock is the kernel's (flock): a driver that dies lets go of it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(folder / LOCK), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise UserError(f"--out {folder} is in use by another {prog} (it holds {folder / LOCK}): wait for it to "
                        f"end, or give another --out") from None
    except OSError as exc:
        raise UserError(f"cannot lock --out {folder}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


UNKEYED = ("weights_file",)  # recorded beside the options, not part of what they make: the file is keyed by its bytes


def options_key(options: Mapping[str, Any]) -> str:
    """A short, stable hash of the options (plain JSON values), key order and UNKEYED aside."""
    keyed = {k: v for k, v in options.items() if k not in UNKEYED}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:KEY_LENGTH]


class Manifest:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "manifest.jsonl"
        self._latest: dict[Key, dict[str, Any]] = {}  # the last row of each (content, style, options)
        self._hashes: dict[Path, str] = {}
        self.damaged = 0  # lines skipped as unreadable
        if self.path.is_file():
            try:
                data = self.path.read_bytes()
            except OSError as exc:
                raise UserError(f"cannot read the manifest {self.path}: {exc.strerror or exc}") from None
            for line in data.split(b"\n"):
                if not line.strip():
                    continue
                row = _row(line)
                if row is None:
                    self.damaged += 1
                else:
                    self._latest[_key(row)] = row

    def sha256(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = sha256_of(path)
        return self._hashes[path]

    def key(self, content: Path, style: Path, options_key_: str) -> Key:
        return self.sha256(content), self.sha256(style), options_key_

    def done(self, key: Key, output: Path) -> Optional[dict[str, Any]]:
        """The row that makes this pair done, if one does: the latest for ``key`` says ``done``,
        it wrote ``output`` (by name: the folder may have moved) and ``output`` is there."""
        row = self._latest.get(key)
        if row is None or row["status"] != "done" or Path(row["output"]).name != output.name:
            return None
        return row if output.is_file() else None

    def append(self, row: Mapping[str, Any]) -> None:
        """One line, after a newline if the file lacks one at its end, synced before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = (json.dumps(row) + "\n").encode()  # ASCII: json escapes the rest
        with open(self.path, "a+b") as f:  # appends wherever the position is; reads from it
            end = f.seek(0, os.SEEK_END)
            if end:
                f.seek(end - 1)
                if f.read(1) != b"\n":  # a line cut short by a crash: end it, so ours stays whole
                    text = b"\n" + text
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if _valid(row):
            self._latest[_key(row)] = dict(row)


def _key(row: Mapping[str, Any]) -> Key:
    return row["content_sha256"], row["style_sha256"], row["options_key"]


def _row(line: bytes) -> Optional[dict[str, Any]]:
    """A line as a row, or None when it is not one this code wrote whole."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: "[[[[..." nested past the limit
        return None
    return row if _valid(row) else None


def _valid(row: Any) -> bool:
    if not isinstance(row, dict) or row.get("status") not in STATUSES:
        return False
    if not all(isinstance(row.get(k), str) for k in ("content_sha256", "style_sha256", "options_key")):
        return False
    return row["status"] != "done" or isinstance(row.get("output"), str)
