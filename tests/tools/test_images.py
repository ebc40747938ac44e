"""Reading every kind of image into the same (H, W, 3) float RGB, resizing, saving."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.errors import ImageError
from common.tools.io.pictures import check_image_path, read_image, save_image


def _save(tmp_path, name, img, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_rgb_png_round_trips_exactly(tmp_path):
    data = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    image = read_image(_save(tmp_path, "a.png", Image.fromarray(data)))
    assert image.shape == (20, 30, 3) and image.dtype == np.float32
    np.testing.assert_array_equal(np.round(image * 255).astype(np.uint8), data)


def test_resize_takes_height_then_width_and_uses_pillow_bilinear(tmp_path):
    data = np.random.default_rng(1).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    path = _save(tmp_path, "a.png", Image.fromarray(data))
    image = read_image(path, (32, 48))
    assert image.shape == (32, 48, 3)
    expected = np.asarray(Image.fromarray(data).resize((48, 32), Image.BILINEAR), dtype=np.float32) / 255
    np.testing.assert_array_equal(image, expected)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA", "RGBA", "I;16", "I", "F"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    gray = np.linspace(0, 1, 16 * 24).reshape(16, 24)
    if mode == "I;16":
        img = Image.fromarray((gray * 65535).astype(np.uint16))
        assert img.mode == "I;16"
    elif mode in ("I", "F"):
        img = Image.fromarray((gray * 65535).astype(np.int32 if mode == "I" else np.float32))
    else:
        img = Image.fromarray((gray * 255).astype(np.uint8), "L").convert(mode)
    name = "a.tif" if mode in ("CMYK", "I", "F") else "a.png"
    image = read_image(_save(tmp_path, name, img))
    assert image.shape == (16, 24, 3)
    assert 0 <= image.min() and image.max() <= 1
    if mode in ("L", "I;16", "I", "F", "RGBA", "LA"):
        # brightness is kept (16-bit and float are scaled, not clipped to white)
        np.testing.assert_allclose(image[..., 0], gray, atol=1.5 / 255)


def test_transparency_is_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    image = read_image(_save(tmp_path, "t.png", Image.fromarray(rgba, "RGBA")))
    np.testing.assert_array_equal(image, np.ones((4, 4, 3), np.float32))


def test_exif_orientation_is_applied(tmp_path):
    data = np.zeros((10, 20, 3), dtype=np.uint8)
    data[:, :10] = 255  # left half white, stored landscape
    img = Image.fromarray(data)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    image = read_image(_save(tmp_path, "r.jpg", img, exif=exif, quality=100))
    assert image.shape == (20, 10, 3)  # shown portrait
    assert image[:8].mean() > 0.9 and image[12:].mean() < 0.1


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing.jpg", "not found"),
    (lambda p: p, "folder"),
    (lambda p: (p / "text.jpg").write_text("not an image") and p / "text.jpg", "not an image"),
    (lambda p: (p / "cut.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00") and p / "cut.png", "image"),
])
def test_bad_files_raise_one_clear_error(tmp_path, make, message):
    with pytest.raises(ImageError, match=message):
        read_image(make(tmp_path), (32, 32))


def test_truncated_jpeg_is_refused(tmp_path):
    path = _save(tmp_path, "a.jpg", Image.fromarray(np.full((64, 64, 3), 128, np.uint8)))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageError):
        read_image(path, (32, 32))


def test_save_is_atomic_and_checks_extension(tmp_path):
    out = tmp_path / "deep" / "er" / "out.png"
    save_image(np.full((8, 8, 3), 0.5, np.float32), out)
    assert Image.open(out).size == (8, 8)
    assert [p.name for p in out.parent.iterdir()] == ["out.png"]  # no temporary files left
    with pytest.raises(ImageError, match="extension"):
        check_image_path(tmp_path / "out.xyz")
    with pytest.raises(ImageError, match="folder"):
        check_image_path(tmp_path)
