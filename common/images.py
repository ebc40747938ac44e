"""Reading, converting, resizing and saving images, once, for both backends.

Both backends start from the very same pixels: the file is decoded by Pillow, turned
upright from its EXIF orientation, converted to 8-bit RGB and resized with Pillow's
bilinear filter, which is what torchvision's ``Resize`` does to a PIL image. (The
chapter's MXNet version resizes with OpenCV's bilinear filter without antialiasing,
which differs by up to 135/255 per pixel on the sample photo.)
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

Image.MAX_IMAGE_PIXELS = 30_000 * 30_000  # a larger file is refused instead of filling memory


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
    path = Path(path)
    if not path.exists():
        raise ImageError(f"image not found: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image file")
    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img)
            img = to_rgb(img)
            if size is not None:
                img = resize(img, size)
            return np.asarray(img, dtype=np.float32) / 255.0
    except UnidentifiedImageError:
        raise ImageError(f"{path} is not an image Pillow can read") from None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageError(f"cannot read image {path}: {exc}") from None


def resize(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    height, width = size
    if img.size == (width, height):
        return img
    # Pillow takes (width, height); this project says (height, width) everywhere else.
    return img.resize((width, height), Image.BILINEAR)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Fail now, before any work, if ``path`` could not be written later; creates its folder."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"output path {path} is a folder: give a file name such as {path / 'out.png'}")
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ImageError(f"cannot write to folder {folder}: {exc.strerror or exc}") from None
    return path


def check_image_path(path: str | os.PathLike[str]) -> Path:
    """An output path whose extension Pillow can save, in a writable folder."""
    path = Path(path)
    if path.is_dir():
        raise ImageError(f"output path {path} is a folder: give a file name such as {path / 'out.png'}")
    ext = path.suffix.lower()
    if ext not in Image.registered_extensions():
        raise ImageError(f"cannot save {path}: unknown image extension {ext or '(none)'}; use .png or .jpg")
    return check_writable(path)


def save_image(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write (H, W, 3) [0, 1] atomically: a crash mid-write never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix)
    os.close(fd)
    try:
        fmt = Image.registered_extensions()[path.suffix.lower()]
        extra = {"quality": 95} if fmt == "JPEG" else {}
        Image.fromarray(to_uint8(image), "RGB").save(tmp, format=fmt, **extra)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
