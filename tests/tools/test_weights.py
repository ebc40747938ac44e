"""The neutral weight format, its sources, and clear failures when weights cannot be had."""
from __future__ import annotations

import numpy as np
import pytest

from common import registry
from common.conventions import CAFFE, TORCHVISION
from common.errors import WeightsError
from common.layers import VGG16, VGG19
from common.tools.io.weights import load_weights, save_npz
from common.weights import check_weights, random_weights

from .. import weight_files
from ..conftest import require


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "cache"


def test_random_weights_are_seeded_he_normal_and_independent_of_the_cut():
    a, b = random_weights(3, 29), random_weights(3, 29)
    assert set(a) == set(VGG19.parameter_shapes(29))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    deeper = random_weights(3, 36)
    assert all(np.array_equal(a[k], deeper[k]) for k in a)
    assert not np.array_equal(a["features.0.weight"], random_weights(4, 29)["features.0.weight"])
    w = a["features.28.weight"]  # fan_in = 512 * 9
    assert w.dtype == np.float32 and w.std() == pytest.approx(np.sqrt(2 / (512 * 9)), rel=0.01)


def test_npz_round_trip(tmp_path):
    path = save_npz(random_weights(0, 36), tmp_path / "w.npz")
    loaded = load_weights(str(path))
    assert set(loaded) == set(VGG19.parameter_shapes()) and loaded.network is VGG19
    np.testing.assert_array_equal(loaded["features.0.weight"], random_weights(0, 29)["features.0.weight"])


@pytest.mark.parametrize("damage, message", [
    (lambda w: w.pop("features.25.weight"), "has no features.25.weight"),
    (lambda w: w.__setitem__("features.0.weight", np.zeros((64, 1, 3, 3), np.float32)), r"shape \(64, 1, 3, 3\)"),
    (lambda w: w["features.2.bias"].__setitem__(0, np.nan), "NaN"),
])
def test_weights_that_do_not_fit_vgg19_are_refused(tmp_path, damage, message):
    weights = random_weights(0, 29)
    damage(weights)
    path = save_npz(weights, tmp_path / "w.npz")
    with pytest.raises(WeightsError, match=message):
        load_weights(str(path))


@pytest.mark.parametrize("name, content, message", [
    ("missing.npz", None, "no such file|not found"),
    ("w.txt", b"hello", "must be one of: .npz"),
    ("broken.npz", b"PK\x03\x04 broken", "cannot read"),
])
def test_unreadable_weight_files_are_refused(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        load_weights(str(path))


def test_torch_state_dict_pth_is_read_with_weights_only(tmp_path):
    require("torch")
    import torch

    state = {k: torch.from_numpy(v) for k, v in random_weights(1, 36).items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # the rest of a full VGG state_dict is ignored
    torch.save(state, tmp_path / "vgg.pth")
    loaded = load_weights(str(tmp_path / "vgg.pth"))
    np.testing.assert_array_equal(loaded["features.28.weight"], random_weights(1, 29)["features.28.weight"])


def test_imagenet_download_failure_is_one_clear_line(monkeypatch):
    require("torch")
    import torchvision

    def offline(*args, **kwargs):
        import urllib.error
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torchvision.models.VGG19_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(WeightsError) as info:
        load_weights("imagenet")
    text = str(info.value)
    assert "\n" not in text and "no network" in text and "--weights" in text


def test_imagenet_is_converted_once_then_read_from_the_cache(monkeypatch, private_cache):
    require("torch")
    import torch
    import torchvision

    calls = []

    def fake_download(*args, **kwargs):
        calls.append(1)
        return {k: torch.from_numpy(v) for k, v in random_weights(7, 36).items()}

    monkeypatch.setattr(torchvision.models.VGG19_Weights.IMAGENET1K_V1.__class__, "get_state_dict", fake_download)
    first = load_weights("imagenet")
    second = load_weights("imagenet")
    assert calls == [1]
    assert (private_cache / "vgg19-imagenet1k-v1.npz").is_file()
    np.testing.assert_array_equal(first["features.28.weight"], second["features.28.weight"])


def test_a_cached_neutral_copy_needs_no_framework(private_cache, monkeypatch):
    save_npz(random_weights(5, 36), private_cache / registry.pretrained_sources()["gluon"][1].format(network="vgg19"))
    monkeypatch.setattr(registry, "load_backend", lambda *a: pytest.fail("tried to import a framework"))
    assert load_weights("gluon")["features.0.weight"].shape == (64, 3, 3, 3)


def test_gluon_download_failure_is_one_clear_line(monkeypatch):
    require("mxnet")
    from mxnet.gluon.model_zoo import vision

    def offline(*args, **kwargs):
        raise OSError("Failed to resolve 'apache-mxnet.s3-accelerate.dualstack.amazonaws.com'")

    monkeypatch.setattr(vision, "vgg19", offline)
    with pytest.raises(WeightsError) as info:
        load_weights("gluon")
    assert "\n" not in str(info.value) and "no network" in str(info.value)


def test_check_weights_keeps_only_what_the_cut_needs():
    kept = check_weights(random_weights(0, 36), VGG19, random_weights().convention, "test", last_layer=6)
    assert sorted(kept) == sorted(VGG19.parameter_shapes(6))


def test_a_features_only_pth_is_read_as_features(tmp_path):
    """``torch.save(vgg19().features.state_dict())`` keys its arrays ``0.weight``, ``0.bias``, ...:
    the same arrays as ``features.0.weight``, so they are accepted."""
    from ..conftest import require

    require("torch")
    import torch

    from common.tools.io.weights import load_weights
    from common.weights import random_weights

    weights = random_weights(3, 29)
    torch.save({k.removeprefix("features."): torch.from_numpy(v) for k, v in weights.items()}, tmp_path / "f.pth")
    loaded = load_weights(str(tmp_path / "f.pth"))
    assert loaded.keys() == weights.keys() and all(np.array_equal(loaded[k], weights[k]) for k in weights)


# -- the weight files people have ------------------------------------------------------------
WRITERS = {
    "keras 2 notop": lambda w, p: weight_files.write_keras2(w, p.with_suffix(".h5")),
    "keras 2, the original files' weight names": lambda w, p: weight_files.write_keras2(w, p.with_suffix(".h5"),
                                                                                       old_names=True),
    "keras 2 whole model": lambda w, p: weight_files.write_keras2(w, p.with_suffix(".h5"), whole_model=True),
    "keras 3 .weights.h5": lambda w, p: weight_files.write_keras3(w, p.with_name(p.name + ".weights.h5")),
    "torchvision state_dict": lambda w, p: weight_files.write_torch(w, p.with_suffix(".pth")),
    "gluon save_parameters": lambda w, p: weight_files.write_gluon(w, p.with_suffix(".params")),
    "neutral": lambda w, p: save_npz(w, p.with_suffix(".npz")),
}
NEEDS = {"torchvision state_dict": "torch", "gluon save_parameters": "mxnet"}


@pytest.mark.parametrize("saved_under_np", [False, True], ids=["saved legacy", "saved under set_np"])
@pytest.mark.parametrize("read_under_np", [False, True], ids=["read legacy", "read under set_np"])
def test_a_gluon_file_reads_whatever_semantics_it_was_saved_and_is_read_under(tmp_path, saved_under_np,
                                                                             read_under_np):
    """MXNet loads a file only under the semantics it was saved with; the chapter saves under
    set_np, older code in legacy mode, and the reading thread may be in either."""
    require("mxnet")
    import mxnet as mx

    weights = random_weights(4, network=VGG16)
    path = weight_files.write_gluon(weights, tmp_path / "vgg.params", numpy_semantics=saved_under_np)
    with weight_files.numpy_semantics_in_this_thread(read_under_np):
        loaded = load_weights(str(path))
        assert mx.util.is_np_array() is read_under_np  # the caller's semantics are kept
    for key in weights:
        np.testing.assert_array_equal(loaded[key], weights[key])


@pytest.mark.parametrize("network", [VGG16, VGG19], ids=["vgg16", "vgg19"])
@pytest.mark.parametrize("kind", list(WRITERS))
def test_every_format_reads_to_the_same_neutral_weights(tmp_path, kind, network):
    if kind in NEEDS:
        require(NEEDS[kind])
    weights = random_weights(3, network=network)
    if kind.startswith("keras"):
        weights.convention = CAFFE
    loaded = load_weights(str(WRITERS[kind](weights, tmp_path / "vgg")))
    assert loaded.network is network  # said by the file, not by an option
    assert loaded.convention is (CAFFE if kind.startswith("keras") else TORCHVISION)
    assert set(loaded) == set(weights)
    for key in weights:
        np.testing.assert_array_equal(loaded[key], weights[key])


def test_a_file_that_contradicts_network_is_refused_in_one_line(tmp_path):
    path = weight_files.write_keras2(random_weights(0, network=VGG16), tmp_path / "vgg16.h5")
    with pytest.raises(WeightsError, match="holds VGG-16 .* not the VGG-19 --network asks for") as caught:
        load_weights(str(path), network="vgg19")
    assert "\n" not in str(caught.value)
    assert load_weights(str(path), network="vgg16").network is VGG16


def test_the_convention_option_overrides_only_what_a_file_does_not_record(tmp_path):
    keras = weight_files.write_keras2(random_weights(0, network=VGG16), tmp_path / "vgg16.h5")
    assert load_weights(str(keras)).convention is CAFFE
    assert load_weights(str(keras), convention_name="torchvision").convention is TORCHVISION
    recorded = save_npz(load_weights(str(keras)), tmp_path / "caffe.npz")
    assert load_weights(str(recorded)).convention is CAFFE  # the neutral file keeps it
    with pytest.raises(WeightsError, match="records caffe's input convention"):
        load_weights(str(recorded), convention_name="torchvision")


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:5000]), "not a readable HDF5 file"),
    (lambda p: p.write_bytes(b"not hdf5 at all"), "not a readable HDF5 file"),
])
def test_broken_keras_files_are_one_line(tmp_path, damage, message):
    path = weight_files.write_keras3(random_weights(0, network=VGG16), tmp_path / "vgg.weights.h5")
    damage(path)
    with pytest.raises(WeightsError, match=message) as caught:
        load_weights(str(path))
    assert "\n" not in str(caught.value)


def test_a_keras_file_of_another_network_is_one_line(tmp_path):
    import h5py

    with h5py.File(tmp_path / "resnet.h5", "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros((8, 4), np.float32))
    with pytest.raises(WeightsError, match="holds no 3x3 convolution"):
        load_weights(str(tmp_path / "resnet.h5"))
    weights = random_weights(0, network=VGG16)
    del weights["features.28.weight"], weights["features.28.bias"]  # 12 convolutions
    with pytest.raises(WeightsError, match="holds 12 3x3 convolutions; VGG-16 has 13 and VGG-19 16"):
        load_weights(str(weight_files.write_keras3(weights, tmp_path / "twelve.weights.h5", with_classifier=False)))


def test_weights_cut_before_the_layers_a_run_needs_are_one_line():
    weights = random_weights(0, 20)  # VGG-19 up to relu4_1
    require("torch")
    from common.registry import load_backend

    with pytest.raises(WeightsError, match="only up to relu4_1; the layers asked for reach relu5_1"):
        load_backend("torch")(weights, last_layer=29, device="cpu")
