"""The cache folder (downloaded sample images, converted weights) and verified downloads."""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from .errors import UserError
from .files import atomic_path, exclusive


class DownloadError(UserError):
    """A file that could not be fetched or failed its checksum."""


def short_reason(exc: BaseException) -> str:
    """A download failure in a few words (libraries nest the cause several exceptions deep)."""
    text = str(getattr(exc, "reason", None) or exc)
    if "Name or service not known" in text or "Failed to resolve" in text or "Temporary failure in name" in text:
        return "no network: the host name could not be resolved"
    if "timed out" in text.lower():
        return "the connection timed out"
    first = (text.strip().splitlines() or [type(exc).__name__])[0]
    return first if len(first) <= 160 else first[:157] + "..."


def cache_dir() -> Path:
    """``$STYLE_TRANSFER_CACHE``, else ``$XDG_CACHE_HOME/style-transfer``, else ``~/.cache/style-transfer``."""
    if os.environ.get("STYLE_TRANSFER_CACHE"):
        return Path(os.environ["STYLE_TRANSFER_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "style-transfer"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url: str, sha256: str, name: str, timeout: float = 30.0) -> Path:
    """The cached copy of ``url`` under ``name``, downloaded once and checked against ``sha256``;
    two runs asking at once download it once."""
    target = cache_dir() / name
    if target.is_file() and sha256_of(target) == sha256:
        return target
    try:
        with exclusive(target):
            if not (target.is_file() and sha256_of(target) == sha256):
                _download(url, sha256, target, timeout)
    except OSError as exc:
        raise DownloadError(f"cannot write the cache folder {target.parent}: {exc.strerror or exc}") from None
    return target


def _download(url: str, sha256: str, target: Path, timeout: float) -> None:
    with atomic_path(target) as tmp:
        try:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DownloadError(f"cannot download {url}: {short_reason(exc)}") from None
        got = sha256_of(tmp)
        if got != sha256:
            raise DownloadError(f"{url} has sha256 {got}, expected {sha256}")
