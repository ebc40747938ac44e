"""The chapter's sample photo and painting, fetched once from the Dive into Deep Learning
repository into the cache and verified. They are third-party files (CC BY-SA 4.0) and are
never part of this repository."""
from __future__ import annotations

from pathlib import Path

from .cache import DownloadError, fetch

_BASE = "https://raw.githubusercontent.com/d2l-ai/d2l-en/master/img/"
SAMPLES = {
    "content": ("rainier.jpg", "014381e94081625e5e5279fd81f50d01b75ebf10f1e85189d66e2fc93adbc768"),
    "style": ("autumn-oak.jpg", "a277e6926333bcb06f8fa7e68d24e4d3027ecb87802227ed4b514ab1906af557"),
}


def sample_image(role: str) -> Path:
    """Path of the default content or style image, downloading it on first use."""
    name, sha256 = SAMPLES[role]
    try:
        return fetch(_BASE + name, sha256, name)
    except DownloadError as exc:
        raise DownloadError(f"no default {role} image ({exc}); pass --{role} FILE") from None
