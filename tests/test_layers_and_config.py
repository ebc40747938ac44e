"""Layer names and indices, configuration checks and the learning-rate schedule."""
from __future__ import annotations

import pytest

from common.config import LossWeights, Scales, Schedule, TransferConfig
from common.errors import ConfigError, LayerError
from common.layers import VGG16, VGG19, by_conv_count
from common.tools.cli.options import FLAGS, in_flags


def test_names_match_torchvision_and_gluon_indices():
    assert VGG19.size == 37 and VGG16.size == 31 and (VGG19.conv_count, VGG16.conv_count) == (16, 13)
    expected = {"conv1_1": 0, "relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "conv4_4": 25,
                "relu4_4": 26, "pool4": 27, "relu5_1": 29, "pool5": 36}
    assert {name: VGG19.index(name) for name in expected} == expected
    # torchvision's vgg16().features: 3 convs in blocks 3 to 5, so the indices shift from relu3_3 on
    expected = {"conv1_1": 0, "relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu3_3": 15, "pool3": 16,
                "relu4_1": 18, "relu4_2": 20, "pool4": 23, "relu5_1": 25, "pool5": 30}
    assert {name: VGG16.index(name) for name in expected} == expected
    assert by_conv_count(13) is VGG16 and by_conv_count(16) is VGG19 and by_conv_count(14) is None


def test_layers_are_accepted_by_name_index_and_mixed():
    assert VGG19.parse("relu1_1,relu2_1") == (1, 6)
    assert VGG19.parse("29, 1 6") == (1, 6, 29)
    assert VGG19.parse(["RELU4_4", "relu4_4", 26]) == (26,)
    assert VGG16.parse("relu4_2") == (20,) and VGG19.parse("relu4_2") == (22,)  # a name is the same layer


@pytest.mark.parametrize("bad", ["relu9_1", "conv", "37", "-1", "", " , "])
def test_unknown_layers_are_refused(bad):
    with pytest.raises(LayerError):
        VGG19.parse(bad)


def test_vgg16_has_no_fourth_conv_in_blocks_three_to_five():
    for name in ("conv3_4", "relu4_4", "conv5_4", "31"):
        with pytest.raises(LayerError, match="VGG-16"):
            VGG16.parse(name)


def test_each_network_has_its_default_layers():
    assert VGG19.default_content_layers == (26,) and VGG19.default_style_layers == (1, 6, 11, 20, 29)
    assert VGG16.default_content_layers == (20,) and VGG16.default_style_layers == (1, 6, 11, 18, 25)
    assert TransferConfig(network="vgg16").last_layer == 25
    assert TransferConfig(network="vgg16", content_layers=(22,)).layers == (1, 6, 11, 18, 22, 25)


def test_parameter_shapes_cover_each_conv_up_to_the_cut():
    shapes = VGG19.parameter_shapes(29)
    assert shapes["features.0.weight"] == (64, 3, 3, 3)
    assert shapes["features.28.weight"] == (512, 512, 3, 3) and shapes["features.28.bias"] == (512,)
    assert len(shapes) == 2 * 13 and "features.30.weight" not in shapes
    assert len(VGG16.parameter_shapes()) == 2 * 13 and len(VGG19.parameter_shapes()) == 2 * 16


def test_schedule_decays_after_every_n_updates():
    s = Schedule(steps=500, lr=0.3, decay_every=50, decay_factor=0.8)
    assert s.lr_at(0) == s.lr_at(49) == 0.3
    assert s.lr_at(50) == pytest.approx(0.24) and s.lr_at(99) == pytest.approx(0.24)
    assert s.lr_at(499) == pytest.approx(0.3 * 0.8 ** 9)


def test_defaults_are_the_chapters():
    c = TransferConfig()
    assert c.size == (300, 450) and c.content_layers == (26,) and c.style_layers == (1, 6, 11, 20, 29)
    assert (c.weights.content, c.weights.style, c.weights.tv) == (1.0, 1e4, 10.0)
    assert (c.schedule.steps, c.schedule.lr, c.schedule.decay_every, c.schedule.decay_factor) == (500, 0.3, 50, 0.8)
    assert c.last_layer == 29


@pytest.mark.parametrize("config, field, flag", [
    (TransferConfig(size=(31, 100)), "size", "--size"),
    (TransferConfig(schedule=Schedule(steps=0)), "schedule.steps", "--steps"),
    (TransferConfig(schedule=Schedule(lr=0)), "schedule.lr", "--lr"),
    (TransferConfig(schedule=Schedule(lr=float("nan"))), "schedule.lr", "--lr"),
    (TransferConfig(schedule=Schedule(decay_every=0)), "schedule.decay_every", "--lr-decay-every"),
    (TransferConfig(schedule=Schedule(decay_factor=-0.5)), "schedule.decay_factor", "--lr-decay-factor"),
    (TransferConfig(weights=LossWeights(style=-1)), "weights.style", "--style-weight"),
    (TransferConfig(weights=LossWeights(0, 0, 0)), "weights", "--content-weight, --style-weight and --tv-weight"),
    (TransferConfig(scales=Scales(count=12)), "scales.count", "--scales"),
    (TransferConfig(network="vgg16", content_layers=(31,)), "content_layers", "--content-layers"),
    (TransferConfig(network="vgg11"), "network", "--network"),
])
def test_invalid_settings_are_refused_by_field_and_said_by_flag_on_the_command_line(config, field, flag):
    """The core names the field; the command line says the option that sets it, also inside the message."""
    with pytest.raises(ConfigError) as caught:
        config.validate()
    assert caught.value.field == field and str(caught.value).startswith(f"{field} ")
    said = in_flags(caught.value)
    assert said.startswith(f"{flag} ") and not any(f in said for f in ("schedule.", "weights.", "scales."))


def test_every_field_the_core_names_has_a_flag():
    """A field the configuration's checks name without a flag would reach the user in the core's words."""
    import ast
    import dataclasses
    from pathlib import Path

    def paths(cls, prefix=""):
        for f in dataclasses.fields(cls):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            yield prefix + f.name
            if dataclasses.is_dataclass(default):
                yield from paths(type(default), prefix + f.name + ".")

    fields = set(paths(TransferConfig)) | {"precision", "convention"}
    source = (Path(__file__).resolve().parents[1] / "common" / "config.py").read_text()
    checks = [node for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.FunctionDef) and node.name in ("validate", "blend")]
    named = {node.value for check in checks for node in ast.walk(check) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and node.value in fields}
    named |= {f"weights.{name}" for name in ("content", "style", "tv")}  # named by an f-string
    assert {"schedule.steps", "scales.count", "colors", "style_fit"} <= named  # the search finds them
    assert named <= set(FLAGS), named - set(FLAGS)
