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
    assert (c.loss_weights.content, c.loss_weights.style, c.loss_weights.tv) == (1.0, 1e4, 10.0)
    assert (c.schedule.steps, c.schedule.lr, c.schedule.decay_every, c.schedule.decay_factor) == (500, 0.3, 50, 0.8)
    assert c.last_layer == 29


@pytest.mark.parametrize("config, field, flag", [
    (TransferConfig(size=(31, 100)), "size", "--size"),
    (TransferConfig(schedule=Schedule(steps=0)), "schedule.steps", "--steps"),
    (TransferConfig(schedule=Schedule(lr=0)), "schedule.lr", "--lr"),
    (TransferConfig(schedule=Schedule(lr=float("nan"))), "schedule.lr", "--lr"),
    (TransferConfig(schedule=Schedule(decay_every=0)), "schedule.decay_every", "--lr-decay-every"),
    (TransferConfig(schedule=Schedule(decay_factor=-0.5)), "schedule.decay_factor", "--lr-decay-factor"),
    (TransferConfig(loss_weights=LossWeights(style=-1)), "loss_weights.style", "--style-weight"),
    (TransferConfig(loss_weights=LossWeights(0, 0, 0)), "loss_weights", "--content-weight, --style-weight and --tv-weight"),
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
    source = (Path(__file__).resolve().parents[2] / "common" / "config.py").read_text()
    checks = [node for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.FunctionDef) and node.name in ("validate", "blend")]
    named = {node.value for check in checks for node in ast.walk(check) if isinstance(node, ast.Constant)
             and isinstance(node.value, str) and node.value in fields}
    named |= {f"loss_weights.{name}" for name in ("content", "style", "tv")}  # named by an f-string
    assert {"schedule.steps", "scales.count", "colors", "style_fit"} <= named  # the search finds them
    assert named <= set(FLAGS), named - set(FLAGS)


# A value other than the default for each option of the one mapping, and what its field then holds.
CHANGED = {
    "size": ([64, 96], (64, 96)), "content_layers": ("relu3_1", (11,)), "style_layers": ("relu2_1,6", (6,)),
    "content_weight": (2.0, 2.0), "style_weight": (5.0, 5.0), "tv_weight": (3.0, 3.0), "steps": (7, 7),
    "lr": (0.5, 0.5), "lr_decay_every": (9, 9), "lr_decay_factor": (0.5, 0.5), "align_adam_epsilon": (True, True),
    "optimizer": ("lbfgs", "lbfgs"), "bounded": (True, True), "init": ("noise", "noise"), "seed": (3, 3),
    "scales": (2, 2), "scale_factor": (3.0, 3.0), "scale_steps": (4, 4), "scale_lr": (0.1, 0.1),
    "scale_moments": ("resize", "resize"), "scale_filter": ("bilinear", "bilinear"), "style_scale": (2.0, 2.0),
    "style_fit": ("stretch", "stretch"), "style_blend": ([1.0], (1.0,)), "preserve_colors": ("luminance", "luminance"),
    "plateau_window": (12, 12), "plateau_fraction": (0.02, 0.02),
}


def _run_options(*argv):
    from common.tools.cli.main import build_parser
    from common.tools.cli.recipes import with_recipe

    return with_recipe(build_parser(), list(argv)).parse_args(list(argv))


def _field(config, path):
    import functools

    return functools.reduce(getattr, path.split("."), config)


@pytest.mark.parametrize("dest", sorted(CHANGED))
def test_each_option_of_the_mapping_sets_its_own_field_and_no_other(dest):
    from common.tools.cli.options import FIELDS, config_from

    base = config_from(_run_options())
    args = _run_options()
    value, expected = CHANGED[dest]
    setattr(args, dest, value)
    config = config_from(args)
    assert _field(config, FIELDS[dest]) == expected != _field(base, FIELDS[dest])
    changed = {name for name, field in FIELDS.items()
               if name != "network" and _field(config, field) != _field(base, field)}
    assert changed == {dest}


def test_the_mapping_covers_every_option_that_sets_a_field():
    from common.tools.cli.options import FIELDS

    assert set(FIELDS) == set(CHANGED) | {"network"}  # the network is the weights' own (--network chooses them)


def test_unset_options_take_the_weights_conventions_defaults():
    from common.conventions import CAFFE
    from common.layers import VGG16
    from common.tools.cli.options import config_from
    from common.weights import Weights

    config = config_from(_run_options(), weights=Weights(network=VGG16, convention=CAFFE))
    assert config.network == "vgg16" and config.content_layers == VGG16.default_content_layers
    assert (config.schedule.lr, config.scales.lr) == (17.2, 2.87)
    assert (config.loss_weights.content, config.loss_weights.style, config.loss_weights.tv) == (1.0, 3.0, 0.0)
    assert config_from(_run_options("--lr", "0.5"), weights=Weights(network=VGG16, convention=CAFFE)).schedule.lr == 0.5


def test_a_recipe_is_the_same_configuration_from_the_command_line_and_in_the_benchmark():
    from common.tools.bench.quality import fast_recipe
    from common.tools.cli.options import config_from, recipe_fields

    chapter, fast = config_from(_run_options()), config_from(_run_options("--recipe", "fast"))
    assert fast != chapter and fast_recipe(chapter) == fast == chapter.with_fields(recipe_fields("fast"))
    assert fast.bounded and fast.scales.count == 2 and fast.schedule.steps == 100


def test_a_configuration_is_made_from_field_paths_in_one_go():
    made = TransferConfig.from_fields({"size": (64, 96), "schedule.steps": 3, "scales.count": 2})
    assert made == TransferConfig(size=(64, 96), schedule=Schedule(steps=3), scales=Scales(count=2))
    assert made.with_fields({"schedule.lr": 0.1}) == TransferConfig(size=(64, 96), schedule=Schedule(steps=3, lr=0.1),
                                                                    scales=Scales(count=2))
    with pytest.raises(TypeError):
        TransferConfig.from_fields({"schedule.stepz": 3})


def test_size_n_needs_the_contents_shape():
    from common.tools.cli.options import config_from

    assert config_from(_run_options("--size", "96"), content=(60, 80)).size == (72, 96)
    with pytest.raises(TypeError, match="content image's size"):
        config_from(_run_options("--size", "96"))
    with pytest.raises(ConfigError, match="from 32 to 65536"):  # the long edge's own range needs no content
        config_from(_run_options("--size", "20"))
