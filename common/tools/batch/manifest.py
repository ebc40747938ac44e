"""The batch's manifest, ``OUT/manifest.jsonl``: one line per pair run, appended and synced as
each pair ends, so a crash loses nothing finished; a pair counts as done when a ``done`` line
has the same input hashes and options and its picture is still there."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Optional

from ..io.downloads import sha256_of


def options_key(options: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:16]


class Manifest:
    def __init__(self, folder: Path) -> None:
        self.path = folder / "manifest.jsonl"
        self._done: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._hashes: dict[Path, str] = {}
        if self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                    key = (row["content_sha256"], row["style_sha256"], row["options_key"])
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: that pair simply runs again
                if row.get("status") == "done":
                    self._done[key] = row
                else:
                    self._done.pop(key, None)

    def sha256(self, path: Path) -> str:
        if path not in self._hashes:
            self._hashes[path] = sha256_of(path)
        return self._hashes[path]

    def key(self, content: Path, style: Path, options_key_: str) -> tuple[str, str, str]:
        return self.sha256(content), self.sha256(style), options_key_

    def done(self, key: tuple[str, str, str], output: Path) -> Optional[dict[str, Any]]:
        row = self._done.get(key)
        return row if row is not None and output.is_file() else None

    def append(self, row: Mapping[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())
        if row.get("status") == "done":
            self._done[(row["content_sha256"], row["style_sha256"], row["options_key"])] = dict(row)
