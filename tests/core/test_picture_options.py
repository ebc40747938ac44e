"""The picture options on every backend: sizes and aspect ratios, several styles, coarse to fine,
Adam's moments between sizes, L-BFGS, the start image, Adam kept inside [0, 1] and colour control,
against NumPy references where there is one."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from common import colors
from common.config import LossWeights, Scales, Schedule, TransferConfig
from common.conventions import TORCHVISION
from common.errors import ConfigError
from common.images import resize_array
from common.terms import AdamMoments
from common.tools.cli.options import result_size
from common.targets import compute_targets, prepare_inputs, start_image, style_size
from common.transfer import transfer
from common.upsample import resize_nchw, resize_moments

from .. import reference as ref
from ..conftest import SIZE, synthetic_image, weights

LOW = np.asarray(TORCHVISION.low).reshape(1, 3, 1, 1)
HIGH = np.asarray(TORCHVISION.high).reshape(1, 3, 1, 1)


def test_scale_sizes_end_at_the_final_size_and_keep_its_aspect_ratio():
    assert Scales(count=3, factor=2).sizes((300, 450)) == [(75, 112), (150, 225), (300, 450)]
    assert Scales(count=2, factor=1.5).sizes((90, 120)) == [(60, 80), (90, 120)]
    assert Scales().sizes((300, 450)) == [(300, 450)]  # one size: the chapter
    assert Scales(count=3, factor=2).sizes((64, 96))[0] == (32, 32)  # never under 32 pixels


def test_size_n_is_the_long_edge_at_the_contents_aspect_ratio():
    assert result_size([400], (600, 800)) == (300, 400)
    assert result_size([400], (800, 600)) == (400, 300)
    assert result_size([300, 450], (1000, 1000)) == (300, 450)
    with pytest.raises(ConfigError):
        result_size([1, 2, 3], (10, 10))


def test_styles_keep_their_aspect_ratio_unless_stretched():
    style = np.zeros((100, 200, 3), np.uint8)
    assert style_size(style, (60, 90), TransferConfig()) == (45, 90)
    assert style_size(style, (60, 90), TransferConfig(style_scale=2.0)) == (90, 180)
    assert style_size(style, (60, 90), TransferConfig(style_fit="stretch")) == (60, 90)


def test_blend_weights_are_normalised_and_one_per_style():
    assert TransferConfig().blend(2) == (0.5, 0.5)
    assert TransferConfig(style_blend=(3.0, 1.0)).blend(2) == (0.75, 0.25)
    with pytest.raises(ConfigError, match="2 shares for 3 style"):
        TransferConfig(style_blend=(3.0, 1.0)).blend(3)


def test_blended_gram_targets_are_the_weighted_sum_of_each_styles(backend, images):
    content, first = images
    second = synthetic_image(5, (30, 70))  # another aspect ratio: Gram matrices are divided by c*h*w
    config = TransferConfig(size=SIZE, style_layers=(1, 6), style_blend=(3.0, 1.0))
    content_k, styles_k = prepare_inputs(content, [first, second], SIZE, config)
    assert [s.shape[:2] for s in styles_k] == [SIZE, (24, 56)]
    _, targets = compute_targets(backend, content_k, styles_k, config)
    for index in (1, 6):
        grams = [ref.gram(ref.features(ref.preprocess(s), weights(), [index])[0]) for s in styles_k]
        assert ref.relative_error(targets.grams[index], 0.75 * grams[0] + 0.25 * grams[1]) < 1e-4


def test_upsampling_keeps_the_images_content():
    x = synthetic_image(3, (20, 28), noise=0.0).transpose(2, 0, 1)[None] * 4 - 2  # smooth, standardised-like
    up = resize_nchw(x, (40, 56))
    assert up.shape == (1, 3, 40, 56)
    back = resize_nchw(up, (20, 28), Image.BOX)
    assert np.abs(back - x).max() < 0.05 * np.ptp(x)
    np.testing.assert_allclose(up.mean(axis=(2, 3)), x.mean(axis=(2, 3)), rtol=0.02)


def test_a_resized_adam_state_keeps_its_step_and_a_nonnegative_second_moment():
    rng = np.random.default_rng(0)
    v = np.abs(rng.standard_normal((1, 3, 8, 8))).astype(np.float32) * (rng.random((1, 3, 8, 8)) > 0.7)
    state = resize_moments(AdamMoments(7, rng.standard_normal((1, 3, 8, 8)).astype(np.float32), v), (16, 16))
    assert state.step == 7 and state.m.shape == state.v.shape == (1, 3, 16, 16)
    assert state.v.min() >= 0 and state.v.max() > 0


def test_adam_continues_from_a_saved_state_exactly(backend, images):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, *images, config)
    backend.start(init, targets, config.loss_weights, config.adam, lr=0.1)
    for _ in range(4):
        backend.step()
    straight = backend.image()
    backend.start(init, targets, config.loss_weights, config.adam, lr=0.1)
    for _ in range(2):
        backend.step()
    state, halfway = backend.adam_moments(), backend.image()
    assert state.step == 2 and np.abs(state.m).max() > 0 and state.v.min() >= 0
    backend.start(halfway, targets, config.loss_weights, config.adam, lr=0.1, moments=state)
    for _ in range(2):
        backend.step()
    np.testing.assert_allclose(backend.image(), straight, rtol=0, atol=1e-6)
    backend.start(halfway, targets, config.loss_weights, config.adam, lr=0.1)  # moments reset: another path
    for _ in range(2):
        backend.step()
    assert np.abs(backend.image() - straight).max() > 1e-3


def test_a_fresh_adam_has_a_zero_state(backend, images):
    config = TransferConfig(size=SIZE)
    init, targets = compute_targets(backend, *images, config)
    backend.start(init, targets, config.loss_weights, config.adam, lr=0.1)
    state = backend.adam_moments()
    assert state.step == 0 and not state.m.any() and not state.v.any() and state.m.shape == init.shape


def test_lbfgs_logs_every_evaluation_and_keeps_the_best_image_in_range(backend, images):
    config = TransferConfig(size=SIZE, optimizer="lbfgs", loss_weights=LossWeights(tv=0.0), schedule=Schedule(steps=12))
    result = transfer(backend, *images, config)
    totals = [r.total for r in result.records]
    assert len(totals) == 12 and all(r.lr is None for r in result.records)
    assert min(totals) < 0.5 * totals[0]
    # the image kept is the best one evaluated; it lies inside [0, 1], so the saved picture's loss is its loss
    assert result.picture_loss.total == pytest.approx(min(totals), rel=1e-5)


def test_bounded_adam_keeps_the_image_inside_the_pixel_range(backend, images):
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=6, lr=0.5))
    transfer(backend, *images, config)
    free = backend.image()
    assert (free < LOW - 1e-3).any() or (free > HIGH + 1e-3).any()  # unbounded Adam leaves the range
    transfer(backend, *images, replace(config, bounded=True))
    kept = backend.image()
    assert (kept >= LOW - 1e-6).all() and (kept <= HIGH + 1e-6).all()


def test_start_images(backend, images):
    content, style = images
    content_x = backend.preprocess(content)
    noise = start_image(backend, content_x, [style], TransferConfig(init="noise", seed=1))
    assert np.array_equal(noise, start_image(backend, content_x, [style], TransferConfig(init="noise", seed=1)))
    assert not np.array_equal(noise, start_image(backend, content_x, [style], TransferConfig(init="noise", seed=2)))
    assert noise.shape == content_x.shape and (noise >= LOW - 1e-6).all() and (noise <= HIGH + 1e-6).all()
    wide = synthetic_image(4, (30, 90))
    np.testing.assert_allclose(start_image(backend, content_x, [wide], TransferConfig(init="style")),
                               ref.preprocess(resize_array(wide, SIZE)), atol=1e-5)


def test_coarse_to_fine_runs_each_size_from_the_result_of_the_one_before(backend, images):
    config = TransferConfig(size=(64, 96), schedule=Schedule(steps=3), scales=Scales(count=2, factor=2, steps=4, lr=0.07))
    result = transfer(backend, *images, config)
    where = [(r.size_index, r.height, r.width) for r in result.records]
    assert where == [(1, 32, 48)] * 4 + [(2, 64, 96)] * 3
    assert [r.step for r in result.records] == list(range(1, 8))
    assert [r.lr for r in result.records] == [0.3] * 4 + [0.07] * 3
    elapsed = [r.elapsed for r in result.records]
    assert elapsed == sorted(elapsed)
    assert result.records[0].content == 0.0 and result.records[4].content > 0  # the second size starts elsewhere
    assert result.picture.shape == (64, 96, 3)


def test_luminance_transfer_keeps_the_contents_colours(backend, images):
    content, style = images
    config = TransferConfig(size=SIZE, colors="luminance", schedule=Schedule(steps=4))
    result = transfer(backend, content, style, config)
    got, want = colors.rgb_to_yiq(result.picture), colors.rgb_to_yiq(content)
    inside = ((result.picture > 0.02) & (result.picture < 0.98)).all(axis=2)  # clipping to [0, 1] aside
    np.testing.assert_allclose(got[inside][:, 1:], want[inside][:, 1:], atol=2e-3)
    assert np.abs(got[..., 0] - want[..., 0]).max() > 0.01  # the luminance did change


def test_histogram_matching_recolours_each_style_at_its_size_before_its_targets(backend, images):
    """The style is resized first, then given the content's colour statistics at the run's size,
    and the run's style targets come from it."""
    content, style = (0.25 + 0.5 * image for image in images)  # matching clips nothing: the statistics hold exactly
    config = TransferConfig(size=SIZE, colors="histogram", schedule=Schedule(steps=1))
    content_k, (recoloured,) = prepare_inputs(content, style, SIZE, config)
    assert recoloured.shape == (*style_size(style, SIZE, config), 3) and 0 < recoloured.min() < recoloured.max() < 1
    for got, want in zip(_colour_stats(recoloured), _colour_stats(content_k)):
        np.testing.assert_allclose(got, want, atol=1e-5)
    plain = transfer(backend, content, style, replace(config, colors="none")).records[0]
    matched = transfer(backend, content, style, config).records[0]
    _, targets = compute_targets(backend, content_k, [recoloured], config)
    backend.use_targets(targets, config.loss_weights)
    terms, _ = backend.evaluate(backend.preprocess(content_k))
    assert matched.style == pytest.approx(terms.style, rel=1e-5) and matched.style != pytest.approx(plain.style)


def _colour_stats(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = image.reshape(-1, 3).astype(np.float64)
    return pixels.mean(axis=0), np.cov(pixels.T, bias=True)


def test_the_picture_loss_is_that_of_the_clipped_saved_picture(backend, images):
    config = TransferConfig(size=SIZE, schedule=Schedule(steps=5, lr=0.5))
    result = transfer(backend, *images, config)
    _, targets = compute_targets(backend, *prepare_inputs(*images, SIZE, config), config)
    backend.use_targets(targets, config.loss_weights)
    terms, _ = backend.evaluate(ref.preprocess(result.picture).astype(np.float32))
    assert result.picture_loss.total == pytest.approx(terms.total, rel=1e-5)
