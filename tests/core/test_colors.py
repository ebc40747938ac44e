"""Colour control (common.colors), checked against plain NumPy statistics and formulas."""
from __future__ import annotations

import numpy as np
import pytest

from common.colors import (
    EPS,
    color_transform,
    combine_luminance,
    finish,
    luminance,
    match_color,
    recolor_inputs,
    rgb_to_yiq,
    yiq_to_rgb,
)

METHODS = ("pca", "cholesky", "sym")


def smooth_image(seed: int, height: int, width: int) -> np.ndarray:
    """Gradients with correlated channels in about 0.25-0.75 plus small noise: far from the clip bounds."""
    rng = np.random.default_rng(seed)
    ys, xs = np.meshgrid(np.linspace(0, 1, height), np.linspace(0, 1, width), indexing="ij")
    basis = np.stack([ys, xs, ys * xs], axis=-1)
    mix = np.eye(3) + rng.uniform(-0.3, 0.3, (3, 3))
    image = 0.5 + 0.3 * (basis - 0.5) @ mix.T + rng.normal(0, 0.02, (height, width, 3))
    return image.astype(np.float32)


def stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = image.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels.T, bias=True)


def luma(image: np.ndarray) -> np.ndarray:
    return 0.299 * image[..., 0] + 0.587 * image[..., 1] + 0.114 * image[..., 2]


STYLE, CONTENT = smooth_image(1, 30, 50), smooth_image(2, 40, 36)  # different shapes on purpose


@pytest.mark.parametrize("method", METHODS)
def test_match_color_gives_content_mean_and_covariance(method):
    out = match_color(STYLE, CONTENT, method)
    assert out.shape == STYLE.shape and out.dtype == np.float32
    assert 0.05 < out.min() and out.max() < 0.95  # no clipping: the statistics must match exactly
    (mean_out, cov_out), (mean_c, cov_c) = stats(out), stats(CONTENT)
    np.testing.assert_allclose(mean_out, mean_c, atol=1e-5)
    np.testing.assert_allclose(cov_out, cov_c, atol=3e-5)  # entries ~5e-3; EPS biases ~1e-5
    assert np.abs(cov_out - stats(STYLE)[1]).max() > 1e-3  # the test images really differ


def test_sym_transform_is_symmetric_and_moves_colours_least():
    """The optimal-transport A is symmetric (PCA's is not) and has the smallest displacement."""
    a_sym, a_pca = color_transform(STYLE, CONTENT, "sym"), color_transform(STYLE, CONTENT, "pca")
    np.testing.assert_allclose(a_sym, a_sym.T, atol=1e-10)
    assert np.abs(a_pca - a_pca.T).max() > 1e-2
    centred = STYLE.reshape(-1, 3) - STYLE.reshape(-1, 3).mean(axis=0)
    moved = {m: np.mean(np.sum((centred @ color_transform(STYLE, CONTENT, m).T - centred) ** 2, axis=1))
             for m in METHODS}
    assert moved["sym"] <= min(moved["pca"], moved["cholesky"]) * (1 + 1e-6)


@pytest.mark.parametrize("method, equivariant", [("pca", True), ("sym", True), ("cholesky", False)])
def test_channel_order_matters_only_for_cholesky(method, equivariant):
    order = [2, 0, 1]
    permuted_first = match_color(STYLE[..., order], CONTENT[..., order], method)
    permuted_after = match_color(STYLE, CONTENT, method)[..., order]
    difference = np.abs(permuted_first - permuted_after).max()
    assert difference < 1e-5 if equivariant else difference > 1e-2


@pytest.mark.parametrize("method", METHODS)
def test_flat_style_gives_finite_flat_result(method):
    flat = np.full((8, 12, 3), [0.2, 0.5, 0.7], dtype=np.float32)
    out = match_color(flat, CONTENT, method)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, np.broadcast_to(stats(CONTENT)[0], out.shape), atol=1e-5)


def test_unknown_method_or_mode_raises_value_error():
    with pytest.raises(ValueError, match="unknown colour matching method"):
        match_color(STYLE, CONTENT, "lab")
    with pytest.raises(ValueError, match="unknown colour mode"):
        recolor_inputs(CONTENT, [STYLE], "sepia")


def test_rgb_yiq_round_trip_and_gray_luminance():
    image = np.random.default_rng(3).random((9, 7, 3)).astype(np.float32)
    np.testing.assert_allclose(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-6)
    np.testing.assert_allclose(luminance(image), luma(image), atol=1e-6)
    gray = np.full((4, 5, 3), 0.37, dtype=np.float32)
    np.testing.assert_allclose(luminance(gray), 0.37, atol=1e-6)
    np.testing.assert_allclose(rgb_to_yiq(gray)[..., 1:], 0.0, atol=1e-6)


def test_combine_luminance_takes_y_from_result_and_iq_from_content():
    result = smooth_image(4, 40, 36)
    out = combine_luminance(result, CONTENT)
    yiq_out, yiq_result, yiq_content = rgb_to_yiq(out), rgb_to_yiq(result), rgb_to_yiq(CONTENT)
    np.testing.assert_allclose(yiq_out[..., 0], yiq_result[..., 0], atol=1e-5)
    np.testing.assert_allclose(yiq_out[..., 1:], yiq_content[..., 1:], atol=1e-5)
    # Equivalently, without YIQ: the content shifted by the luminance difference in every channel.
    expected = CONTENT + (luma(result) - luma(CONTENT))[..., None]
    np.testing.assert_allclose(out, expected, atol=1e-5)
    np.testing.assert_array_equal(finish(result, CONTENT, "luminance"), out)
    assert finish(result, CONTENT, "histogram") is result


def test_recolor_inputs_luminance_gives_gray_images_with_matched_statistics():
    styles = [smooth_image(5, 20, 30), smooth_image(6, 44, 22)]
    content, grays = recolor_inputs(CONTENT, styles, "luminance")
    assert content.shape == CONTENT.shape and [g.shape for g in grays] == [s.shape for s in styles]
    for image in [content, *grays]:
        assert np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])
    y_content = luma(CONTENT)
    np.testing.assert_allclose(content[..., 0], y_content, atol=1e-6)
    for gray in grays:
        assert abs(gray[..., 0].mean() - y_content.mean()) < 1e-5
        assert abs(gray[..., 0].std() - y_content.std()) < 1e-5


def test_recolor_inputs_none_and_histogram():
    content, styles = recolor_inputs(CONTENT, [STYLE], "none")
    assert content is CONTENT and styles[0] is STYLE
    # colours well inside the unit cube, so that matching clips nothing (clipping would move the statistics)
    inner, first, other = (0.25 + 0.5 * image for image in (CONTENT, STYLE, smooth_image(7, 26, 60)))
    content, styles = recolor_inputs(inner, [first, other], "histogram")
    assert content is inner and [s.shape for s in styles] == [first.shape, other.shape]
    mean_c, cov_c = stats(inner)
    for original, style in zip((first, other), styles):  # each style, whatever its size: the content's colours
        assert 0 < style.min() and style.max() < 1
        mean, cov = stats(style)
        matrix = color_transform(original, inner)
        np.testing.assert_allclose(mean, mean_c, atol=1e-6)
        # the covariance, but for EPS's documented bias EPS * (I - A A^T)
        np.testing.assert_allclose(cov, cov_c + EPS * (np.eye(3) - matrix @ matrix.T), atol=1e-7)
