"""Image files: reading any file Pillow decodes as upright 8-bit RGB, refusing a bad one in one
line, and writing a result (atomically) in a format that can hold it, checked before any work."""
from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from common.errors import ImageError, one_line
from common.images import image_size, resize_array, to_uint8

from .files import atomic_path

# A decompression bomb (a small file that decodes to billions of pixels) is refused before it is
# decoded. Pillow's own limit, 89 Mpx, would refuse the largest camera photos (100-150 Mpx);
# 2**28 = 268 Mpx (16384 x 16384) admits them and costs at most 805 MB decoded. Above it the
# file is refused outright (Pillow would only warn up to twice its limit).
Image.MAX_IMAGE_PIXELS = 2**28

# Pillow logs some refusals before raising them ("More samples per pixel than can be decoded");
# with no handler Python would print them as extra stderr lines beside the one-line error.
logging.getLogger("PIL").addHandler(logging.NullHandler())

# libjpeg's JPEG_MAX_DIMENSION: a larger picture makes libjpeg print "Maximum supported image
# dimension is 65500 pixels" to file descriptor 2 before Pillow raises, so it is refused by this
# number instead of by a trial save. The other writers refuse in Python (checked: every format
# Pillow 13 writes, 32 x 65536 both ways round).
JPEG_LONGEST = 65500
JPEG_WRITERS = ("JPEG", "MPO", "PDF")  # PDF stores an RGB picture as JPEG


@functools.lru_cache(maxsize=None)
def _quiet_libtiff() -> None:
    """libtiff prints its complaints about a damaged file ("Using code not yet in table.") to file
    descriptor 2 itself, past sys.stderr, beside the error Pillow raises anyway. Its message
    handlers are unset once, in the libtiff Pillow loaded: only libtiff's own messages change;
    descriptor 2 and other threads' output stay as they are. Found through /proc/self/maps
    (Linux); elsewhere libtiff keeps its say."""
    from PIL import _imaging  # noqa: F401 - loads Pillow's libtiff

    del _imaging

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "libtiff" in line.rsplit("/", 1)[-1]}
    except OSError:
        return
    for path in paths:
        try:
            library = ctypes.CDLL(path)  # the library already loaded: dlopen returns the same one
        except OSError:
            continue
        for name in ("TIFFSetErrorHandler", "TIFFSetWarningHandler"):
            setter = getattr(library, name, None)
            if setter is not None:
                setter.restype, setter.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
                setter(None)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> 8-bit RGB. Transparency is composited over white (a transparent
    pixel has no colour of its own); 16-bit and float images are scaled, not clipped."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        if img.mode == "F":
            top = max(1.0, float(values.max(initial=0)))
        img = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def read_image(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """(height, width, 3) float32 RGB in [0, 1], resized to ``size`` = (height, width)."""
    pixels = load_rgb(path)
    return resize_array(pixels, size or image_size(pixels))


def load_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """The whole file as (height, width, 3) uint8 RGB, upright: resized later, once per size used."""
    path = _existing_file(path)
    with _reading(path):
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            return np.asarray(to_rgb(img), dtype=np.uint8)


def picture_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) of an image file as ``load_rgb`` decodes it, its EXIF orientation applied,
    from its header (a PNG whose EXIF follows its pixels is decoded for it)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a damaged file's metadata warnings: its header was checked already
            with Image.open(path) as img:
                width, height = img.size
                turned = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # transposed or a quarter turn
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file's decoder raises
        raise ImageError(f"cannot read image {path}: {one_line(exc)}") from None
    return (width, height) if turned else (height, width)


def check_image_file(path: str | os.PathLike[str]) -> Path:
    """Refuse now what :func:`load_rgb` would refuse from the header alone (missing, a folder,
    empty, not an image, a decompression bomb): nothing is decoded, so it costs a millisecond."""
    path = _existing_file(path)
    with _reading(path):
        with Image.open(path):  # reads the header only; Pillow's bomb guard runs here
            pass
    return path


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path} is empty (0 bytes), not an image")
    return path


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Whatever Pillow raises on a bad file, as one ImageError line, and nothing else on stderr."""
    _quiet_libtiff()
    try:
        with warnings.catch_warnings():
            # A damaged file's metadata warnings ("Tag data larger than file") would add lines to
            # stderr; Pillow only warns between its pixel limit and twice it: here that is a refusal.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageError(f"{path} has more pixels than the {Image.MAX_IMAGE_PIXELS:,} this program decodes "
                         f"(a guard against decompression bombs); resize it first") from None
    except MemoryError:
        raise  # out of memory, not a bad file: the caller's one line says so
    except Exception as exc:  # a damaged file raises whatever its decoder raises (OSError, SyntaxError, TypeError...)
        raise ImageError(f"cannot read image {path}: {one_line(exc)}") from None


def check_writable(path: str | os.PathLike[str], create: bool = True) -> Path:
    """Fail now, before any work, if ``path`` could not be written later. ``create``: make its
    folder now; otherwise probe the nearest folder that exists, so a refused run leaves none."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"output path {path} is a folder: give a file name such as {path / 'out.png'}")
    folder = path.parent
    probe = folder
    if not create:
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        if not probe.is_dir():
            raise ImageError(f"cannot write to folder {folder}: {probe} is a file, not a folder")
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ImageError(f"cannot write to folder {folder}: {exc.strerror or exc}") from None
    return path


def check_image_path(path: str | os.PathLike[str], create: bool = True, long_side: int = 32) -> Path:
    """An output path whose extension Pillow can save, in a writable folder (see check_writable),
    as an RGB picture whose longer side is ``long_side`` (the result's, when known)."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"output path {path} is a folder: give a file name such as {path / 'out.png'}")
    ext = path.suffix.lower()
    Image.init()  # every format plugin, so that SAVE is complete
    if ext not in Image.registered_extensions():
        raise ImageError(f"cannot save {path}: unknown image extension {ext or '(none)'}; use .png or .jpg")
    fmt = Image.registered_extensions()[ext]
    if fmt not in Image.SAVE:  # Pillow reads .psd, for one, but cannot write it
        raise ImageError(f"cannot write {ext} files: Pillow reads them but has no writer; use .png or .jpg")
    if fmt in JPEG_WRITERS and long_side > JPEG_LONGEST:
        raise ImageError(f"cannot write {path}: Pillow's {fmt} writer (libjpeg) cannot save a picture {long_side} "
                         f"pixels long, at most {JPEG_LONGEST}; use .png")
    _trial_save(path, fmt, long_side)
    return check_writable(path, create)


def _trial_save(path: Path, fmt: str, long_side: int) -> None:
    """Save black pictures, in memory, as :func:`save_image` will save the result. Pillow lists
    writers that cannot hold it: some refuse RGB (.xbm, .msp, .palm, .blp), some are stubs
    (.emf, .wmf, .h5, .grib, .bufr), .ico and .icns change its size, and WebP (16383 px) and TGA,
    GIF, PCX, SGI (65535) have a longest side. A table of these would go stale with each Pillow
    release; the saves are 32 px thin, both ways round, and touch no process-wide state: measured
    here 1 to 80 ms for PNG, JPEG, TIFF, BMP and WebP at long sides 450 to 65000, 213 ms for GIF at 65000."""
    for height, width in dict.fromkeys(((32, 32), (32, long_side), (long_side, 32))):
        if fmt in JPEG_WRITERS and max(height, width) > 32:
            continue  # its longest side is checked by number (see JPEG_LONGEST)
        picture, buffer = Image.new("RGB", (width, height)), io.BytesIO()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                picture.save(buffer, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
        except Exception as exc:  # each writer raises its own kind (OSError, ValueError, OverflowError, struct.error)
            what = "an RGB picture" if height == width else f"a picture {long_side} pixels long"
            raise ImageError(f"cannot write {path}: Pillow's {fmt} writer cannot save {what} ({one_line(exc)}); "
                             f"use .png") from None
        try:
            with Image.open(buffer) as back:
                written = back.size
        except Exception:  # Pillow writes .eps and .pdf but cannot read them back: nothing to compare
            continue
        if written != picture.size:
            raise ImageError(f"cannot write {path}: Pillow's {fmt} writer would store a {height}x{width} picture "
                             f"as {written[1]}x{written[0]}; use .png or .jpg")


_SAVE_OPTIONS = {"JPEG": {"quality": 95}}


def save_image(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write (H, W, 3) [0, 1] atomically: a crash mid-write never leaves a broken file."""
    path = Path(path)
    fmt = Image.registered_extensions()[path.suffix.lower()]
    with atomic_path(path) as tmp:
        Image.fromarray(to_uint8(image), "RGB").save(tmp, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
    return path
