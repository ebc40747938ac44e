"""The Gluon model zoo's VGG-16 or VGG-19 ``features``, cut after the deepest layer used, loaded
from neutral weights and frozen; and a block that returns the features at chosen indices."""
from __future__ import annotations

import warnings
from typing import Sequence

import mxnet as mx
from mxnet import gluon, np
from mxnet.gluon.model_zoo import vision
from mxnet.util import use_np  # npx has set_np, but its decorator twin lives in mxnet.util

from common.weights import Weights


def build_features(weights: Weights, last_layer: int, ctx: mx.Context,
                   frozen: bool = True) -> gluon.nn.HybridSequential:
    # pretrained=False: the architecture only. Gluon's features[0:37] (VGG-19) and [0:31] (VGG-16)
    # are torchvision's one to one.
    architecture = {"vgg19": vision.vgg19, "vgg16": vision.vgg16}[weights.network.name]
    features = architecture(pretrained=False).features[: last_layer + 1]
    convs = [(i, layer) for i, layer in enumerate(features) if isinstance(layer, gluon.nn.Conv2D)]
    for index, conv in convs:
        # Gluon infers in_channels at the first forward (deferred init); giving the shapes
        # up front lets initialize() allocate at once so set_data can fill the arrays.
        conv.weight.shape = weights[f"features.{index}.weight"].shape
        conv.bias.shape = weights[f"features.{index}.bias"].shape
    features.initialize(ctx=ctx)
    for index, conv in convs:
        conv.weight.set_data(np.array(weights[f"features.{index}.weight"], ctx=ctx))
        conv.bias.set_data(np.array(weights[f"features.{index}.bias"], ctx=ctx))
    # Frozen: no weight gradient is ever computed (PyTorch: requires_grad_(False)). The chapter
    # leaves grad_req='write': weight gradients computed at every backward and never used.
    if frozen:
        features.collect_params().setattr("grad_req", "null")
    return features


# A hybridized block that stops before the deepest conv (the content targets stop at relu4_4)
# leaves that conv's parameters out of its graph, which Gluon reports each time: intended here.
warnings.filterwarnings("ignore", message=r"Parameter .* is not used by any computation", category=UserWarning)


@use_np  # NumPy semantics inside the block's own methods, whichever thread calls them
class FeatureTaps(gluon.HybridBlock):
    """Runs ``features`` once and returns the outputs at ``layers`` (in that order)."""

    def __init__(self, features: gluon.nn.HybridSequential, layers: Sequence[int]) -> None:
        super().__init__()
        self.features = features
        self.layers = tuple(layers)
        self._wanted = set(self.layers)

    def hybrid_forward(self, F, x):  # noqa: N803 - Gluon's signature: F is mx.nd or mx.sym (np in np mode)
        taken = {}
        last = max(self.layers)
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in self._wanted:
                # Activation('relu') returns a new array, so keeping a reference is safe here
                # (torchvision's ReLU(inplace=True) is not: the PyTorch backend copies).
                taken[index] = x
            if index == last:
                break
        return [taken[i] for i in self.layers]

    def hybridize_alone(self, **flags) -> None:
        """One cached graph for this block only. Gluon's hybridize() also hybridizes every child,
        which would turn each layer of the shared ``features`` into a graph of its own (with
        ``flags``' static memory) wherever they run outside this block, as the targets do."""
        self.hybridize(**flags)
        self.features.hybridize(False)  # a child's flag is ignored inside its parent's graph
