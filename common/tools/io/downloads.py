"""The cache folder and verified downloads: the chapter's photo and painting, fetched once with
``pooch`` (SHA-256 checked, written whole or not at all) into the cache folder ``platformdirs``
names for this system, one download at a time (``filelock``). The d2l images are third-party
files (CC BY-SA 4.0) and never part of this repository."""
from __future__ import annotations

import os
from pathlib import Path

from common.errors import UserError, short_reason

from .files import exclusive

APP = "style-transfer"
_BASE = "https://raw.githubusercontent.com/d2l-ai/d2l-en/master/img/"
SAMPLES = {
    "content": ("rainier.jpg", "014381e94081625e5e5279fd81f50d01b75ebf10f1e85189d66e2fc93adbc768"),
    "style": ("autumn-oak.jpg", "a277e6926333bcb06f8fa7e68d24e4d3027ecb87802227ed4b514ab1906af557"),
}


class DownloadError(UserError):
    """A file that could not be fetched or failed its checksum; ``reason`` says why in a few words."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


def reason_of(exc: Exception) -> str:
    """Why a request failed, in a few words: requests' own text names the pool, the retries and the
    nested cause, and would make a line of hundreds of characters."""
    import requests

    if isinstance(exc, requests.exceptions.ProxyError):
        return "the proxy refused the connection"
    text = str(exc)
    if isinstance(exc, requests.ConnectionError) and "Name or service" not in text and "resolve" not in text \
            and "name resolution" not in text:
        return "no connection: " + ("refused" if "refused" in text.lower() else "the host cannot be reached")
    return short_reason(exc)


def cache_dir() -> Path:
    """``$STYLE_TRANSFER_CACHE``, else this system's user cache folder for the project
    (``~/.cache/style-transfer`` on Linux, honouring ``$XDG_CACHE_HOME``)."""
    if os.environ.get("STYLE_TRANSFER_CACHE"):
        return Path(os.environ["STYLE_TRANSFER_CACHE"]).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def fetch(url: str, sha256: str, name: str) -> Path:
    """The cached copy of ``url`` under ``name``, downloaded once and checked against ``sha256``;
    two runs asking at once download it once."""
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")  # its "Downloading data from ..." would be a second line
    target = cache_dir() / name
    try:
        with exclusive(target):
            return Path(pooch.retrieve(url, known_hash=f"sha256:{sha256}", fname=name, path=target.parent,
                                       progressbar=False))
    except requests.RequestException as exc:  # connection, HTTP and timeout errors (OSErrors too)
        reason = reason_of(exc)
        raise DownloadError(f"cannot download {url}: {reason}", reason) from None
    except OSError as exc:
        raise DownloadError(f"cannot write the cache folder {target.parent}: {exc.strerror or exc}") from None
    except ValueError as exc:  # pooch's word for a checksum that does not match
        raise DownloadError(f"{url} did not match its SHA-256 ({short_reason(exc)})") from None


def sample_image(role: str) -> Path:
    """Path of the default content or style image, downloading it on first use."""
    name, sha256 = SAMPLES[role]
    try:
        return fetch(_BASE + name, sha256, name)
    except DownloadError as exc:
        raise DownloadError(f"no default {role} image ({exc}); pass --{role} FILE", exc.reason) from None


def sha256_of(path: str | os.PathLike[str]) -> str:
    """The file's SHA-256, as pooch computes it for downloads (inputs are identified by it)."""
    import pooch

    return pooch.file_hash(str(path), alg="sha256")
