"""What a run would download, known before any framework is imported: the chapter's photo and
painting when no --content or --style is given, and a pretrained source's weights when neither
the converted copy in the cache nor the framework's own download is on disk. Whatever is missing
is fetched (the images) or asked for (the weights' address, answered without downloading: the
framework downloads them later) all at once, and every piece that cannot be had is said in one
line, so that an offline machine learns in a second everything it must be given.

The addresses and file names are the frameworks' own (torchvision's IMAGENET1K_V1 VGGs and the
Gluon model zoo's), written out here because asking the frameworks means importing them;
tests/tools/test_offline.py holds them to the installed frameworks' values."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from common import registry
from .downloads import SAMPLES, DownloadError, cache_dir, reason_of, sample_image

# torchvision's file for each network (torchvision.models.VGG19_Weights.IMAGENET1K_V1.url).
TORCHVISION_URL = "https://download.pytorch.org/models/"
TORCHVISION_FILES = {"vgg19": "vgg19-dcbb9e9d.pth", "vgg16": "vgg16-397923af.pth"}
# The Gluon model zoo's (mxnet.gluon.model_zoo.model_store: name-shorthash.params, zipped).
GLUON_URL = "https://apache-mxnet.s3-accelerate.dualstack.amazonaws.com/"
GLUON_FILES = {"vgg19": "vgg19-ad2f660d.params", "vgg16": "vgg16-e660d456.params"}
TITLES = {"vgg19": "VGG-19", "vgg16": "VGG-16"}
TIMEOUT = 10.0  # seconds to wait for an address to answer: offline, most fail at once


@dataclass(frozen=True)
class Piece:
    """One thing a run would download: what it is, where it comes from, what to pass instead."""

    what: str
    url: str
    instead: str
    role: Optional[str] = None  # "content" or "style": a sample image, fetched now


def torch_hub_dir() -> Path:
    """Where torchvision keeps what it downloads, found as torch.hub.get_dir finds it."""
    home = os.getenv("TORCH_HOME") or os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def weights_piece(source: str, network: str = "vgg19") -> Optional[Piece]:
    """The download ``--weights source`` would need for ``network``, or None when it needs none
    (the converted copy, or the framework's own file, is on disk; or not a pretrained source)."""
    sources = registry.pretrained_sources()
    if source not in sources:
        return None
    if (cache_dir() / sources[source][1].format(network=network)).is_file():
        return None
    title = TITLES.get(network, network)
    if source == "imagenet":
        name = TORCHVISION_FILES[network]
        if (torch_hub_dir() / name).is_file():
            return None
        return Piece(f"torchvision's {title} weights {name}", TORCHVISION_URL + name,
                     f"--weights {name} (that file, fetched elsewhere from {TORCHVISION_URL + name})")
    name = GLUON_FILES[network]
    if (cache_dir() / "mxnet-model-zoo" / name).is_file():
        return None
    repo = os.environ.get("MXNET_GLUON_REPO", GLUON_URL).rstrip("/") + "/"
    url = f"{repo}gluon/models/{name[:-len('.params')]}.zip"
    return Piece(f"the Gluon model zoo's {title} weights {name}", url, f"--weights {name} (that file, unzipped from {url})")


def missing(content: Optional[str], styles: Optional[list], weights: Optional[str],
            network: Optional[str] = None, samples: bool = True) -> list[Piece]:
    """Every piece a run with these options would download (``samples``: whether no --content or
    --style means the chapter's)."""
    pieces = []
    for role, given in (("content", content), ("style", styles)):
        name = SAMPLES[role][0]
        if samples and not given and not (cache_dir() / name).is_file():
            pieces.append(Piece(f"the default {role} image {name}", name, f"--{role} FILE", role))
    piece = weights_piece(weights, network or "vgg19") if weights else None
    return pieces + ([piece] if piece else [])


def _try(piece: Piece) -> Optional[str]:
    """None when the piece can be had (a sample image: now fetched; weights: the address answers),
    else why not, in a few words."""
    if piece.role is not None:
        try:
            sample_image(piece.role)
        except DownloadError as exc:
            return exc.reason
        return None
    import requests

    try:
        answer = requests.head(piece.url, timeout=TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        return reason_of(exc)
    return None if answer.status_code < 400 else f"HTTP {answer.status_code}"


def check_downloads(content: Optional[str], styles: Optional[list], weights: Optional[str],
                    network: Optional[str] = None, samples: bool = True) -> None:
    """Fetch the sample images a run needs and ask for its weights' address, all at once; raise
    DownloadError, one line naming every piece that cannot be had and what to pass instead."""
    pieces = missing(content, styles, weights, network, samples)
    if not pieces:
        return
    with ThreadPoolExecutor(len(pieces)) as pool:  # one wait for all, not one timeout after another
        reasons = list(pool.map(_try, pieces))
    failed = [(piece, reason) for piece, reason in zip(pieces, reasons) if reason]
    if not failed:
        return
    causes = sorted({reason for _, reason in failed})
    whats = [piece.what for piece, _ in failed]
    listed = whats[0] if len(whats) == 1 else ", ".join(whats[:-1]) + " and " + whats[-1]
    options = [piece.instead for piece, _ in failed]
    instead = options[0] if len(options) == 1 else ", ".join(options[:-1]) + " and " + options[-1]
    random = " (or --weights random for a smoke run)" if any(p.role is None for p, _ in failed) else ""
    raise DownloadError(f"cannot download {listed} ({'; '.join(causes)}): pass {instead}{random}")
