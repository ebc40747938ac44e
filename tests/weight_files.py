"""Weight files in the layouts people have, written from neutral weights for the tests: Keras 2
(``keras.applications``' ``*_tf_kernels[_notop].h5``, as Keras' own ``legacy_h5_format`` writer
lays them out: root attribute ``layer_names``, a group per layer with attribute ``weight_names``
whose names are dataset paths; a whole model under ``model_weights``), Keras 3 ``.weights.h5``
(``layers/<name>/vars/0`` and ``vars/1``), torchvision ``state_dict`` files and Gluon ``.params``."""
from __future__ import annotations

import contextlib

from pathlib import Path

import h5py
import numpy as np

from common.weights import Weights


def keras_layer_names(weights: Weights) -> list[str]:
    """keras.applications' names of the network's layers, in order: block1_conv1, ..., block1_pool, ..."""
    names, block, conv = [], 1, 1
    for item in weights.network.config:
        if item == "M":
            names.append(f"block{block}_pool")
            block, conv = block + 1, 1
        else:
            names.append(f"block{block}_conv{conv}")
            conv += 1
    return names


def keras_convs(weights: Weights) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, HWIO kernel, bias) per convolution, in network order."""
    names = [n for n in keras_layer_names(weights) if "_conv" in n]
    return [(name, weights[f"features.{i}.weight"].transpose(2, 3, 1, 0), weights[f"features.{i}.bias"])
            for name, i in zip(names, weights.network.convs) if f"features.{i}.weight" in weights]


def write_keras2(weights: Weights, path: Path, whole_model: bool = False, old_names: bool = False) -> Path:
    """Keras 2's layout. ``old_names``: the weight names of the original keras.applications files
    (``block1_conv1_W_1:0``), else ``block1_conv1/kernel:0`` as tf.keras writes them."""
    convs = keras_convs(weights)
    with h5py.File(path, "w") as f:
        root = f.create_group("model_weights") if whole_model else f
        if whole_model:
            f.attrs["model_config"] = b'{"class_name": "Functional"}'
        layers = ["input_1", *keras_layer_names(weights)]
        if whole_model:
            layers += ["flatten", "fc1", "fc2", "predictions"]
        root.attrs["layer_names"] = [n.encode() for n in layers]
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        arrays = {name: (kernel, bias) for name, kernel, bias in convs}
        rng = np.random.default_rng(0)
        if whole_model:
            arrays.update({"fc1": (rng.standard_normal((8, 4)).astype(np.float32), np.zeros(4, np.float32)),
                           "fc2": (rng.standard_normal((4, 4)).astype(np.float32), np.zeros(4, np.float32)),
                           "predictions": (rng.standard_normal((4, 3)).astype(np.float32), np.zeros(3, np.float32))})
        for layer in sorted(layers):  # Keras writes the groups in name order
            group = root.create_group(layer)
            if layer not in arrays:
                group.attrs["weight_names"] = np.array([], dtype="S1")
                continue
            names = ([f"{layer}_W_1:0", f"{layer}_b_1:0"] if old_names else [f"{layer}/kernel:0", f"{layer}/bias:0"])
            group.attrs["weight_names"] = [n.encode() for n in names]
            for name, value in zip(names, arrays[layer]):
                group.create_dataset(name, data=value)
    return path


def write_keras3(weights: Weights, path: Path, with_classifier: bool = True) -> Path:
    """Keras 3's ``.weights.h5``: one group per layer path, ``vars/0`` the kernel, ``vars/1`` the bias;
    an optimizer's state beside them."""
    with h5py.File(path, "w") as f:
        for name, kernel, bias in keras_convs(weights):
            f.create_dataset(f"layers/{name}/vars/0", data=kernel)
            f.create_dataset(f"layers/{name}/vars/1", data=bias)
        if with_classifier:
            f.create_dataset("layers/fc1/vars/0", data=np.zeros((8, 4), np.float32))
            f.create_dataset("layers/fc1/vars/1", data=np.zeros(4, np.float32))
            f.create_dataset("optimizer/vars/0", data=np.zeros((3, 3, 3, 64), np.float32))  # a momentum
            f.create_dataset("optimizer/vars/1", data=np.zeros((64,), np.float32))
    return path


def write_torch(weights: Weights, path: Path) -> Path:
    """A torchvision ``state_dict`` of the whole model (features and classifier)."""
    import torch

    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    state["classifier.0.weight"] = torch.zeros(4, 8)
    torch.save(state, path)
    return path


@contextlib.contextmanager
def numpy_semantics_in_this_thread(on: bool):
    """MXNet's NumPy semantics on or off for this thread within the block (shape semantics go on
    before array semantics and off after them: MXNet refuses the other order)."""
    import mxnet as mx

    outer, inner = (mx.util.np_shape(on), mx.util.np_array(on)) if on else (mx.util.np_array(on), mx.util.np_shape(on))
    with outer, inner:
        yield


def write_gluon(weights: Weights, path: Path, numpy_semantics: bool = True) -> Path:
    """A Gluon model zoo VGG's ``save_parameters`` file, from the model zoo's own architecture,
    saved under the chapter's NumPy semantics or in legacy mode (the file records which)."""
    import mxnet as mx
    from mxnet.gluon.model_zoo import vision

    # Said explicitly: the semantics are per thread, and earlier tests may have switched them on.
    on = numpy_semantics
    array = mx.np if on else mx.nd
    with numpy_semantics_in_this_thread(on):
        net = {"vgg16": vision.vgg16, "vgg19": vision.vgg19}[weights.network.name](pretrained=False)
        net.initialize()
        net(array.zeros((1, 3, 32, 32)))  # deferred shapes: one forward pass sets them
        for index, layer in enumerate(net.features):
            if isinstance(layer, mx.gluon.nn.Conv2D):
                layer.weight.set_data(array.array(weights[f"features.{index}.weight"]))
                layer.bias.set_data(array.array(weights[f"features.{index}.bias"]))
        net.save_parameters(str(path))
    return path
