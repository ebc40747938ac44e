"""The MXNet implementation of ``common.interface.StyleBackend``, in the chapter's dialect: MXNet's
NumPy interface (``mxnet.np``, ``npx``) with Gluon. Host arrays are NumPy's, named ``onp`` here
as the chapter does, so that ``np`` is MXNet's."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import mxnet as mx
import numpy as onp
from mxnet import autograd, gluon, np

from common.config import AdamSettings, LossWeights

from common.execution import Execution
from common.errors import BackendUnavailable
from common.interface import StyleBackend
from common.terms import AdamMoments, LossTerms, Targets

from . import device as devices
from . import errors, losses, transforms
from .optimizer import get_moments, make_trainer, prepare_update, set_learning_rate, set_moments
from .vgg import FeatureTaps, build_features

# VGG has no dropout or batch norm, so train_mode looks irrelevant, but it is not: with oneDNN
# (on by default on the CPU), MaxPool2D run under record(train_mode=False) keeps no record of
# where each maximum was, and its backward sends the gradient to the wrong pixels (measured:
# tests/test_framework_traps.py). Record in training mode, and take targets in it too.
TRAINING_MODE = True

UNSUPPORTED = "the MXNet backend runs fp32 only and has no compile step (bf16: see docs/speed.md)"


class MXNetBackend(StyleBackend):
    name = "mxnet"
    framework = f"MXNet {mx.__version__}"
    adam_epsilon = "uncorrected"
    transforms = transforms
    losses = losses

    def __init__(self, weights: Mapping[str, onp.ndarray], *, last_layer: int, device: str = "cpu",
                 execution: Execution = Execution()) -> None:
        super().__init__(weights, last_layer=last_layer, device=device, execution=execution)
        if execution.precision != "fp32" or execution.compile:
            raise BackendUnavailable(UNSUPPORTED)
        self._ctx = devices.resolve_device(device)
        devices.numpy_semantics()  # the network's parameters are built as mxnet.np arrays
        # Nothing process-wide to set here (PyTorch's backend sets threads and cudnn.benchmark): MXNet's
        # thread count is fixed per engine worker when it loads (see __init__.py), static allocation is per block.
        self._features = build_features(self.weights, last_layer, self._ctx, execution.frozen)
        self._x: gluon.Parameter | None = None

    def _make_taps(self, layers: tuple[int, ...]) -> FeatureTaps:
        taps = FeatureTaps(self._features, layers)
        if self._execution.optimized:
            # The block every training step (and L-BFGS evaluation) runs: one cached graph, its memory
            # planned once and reused. Measured against plain hybridize() and none, steps interleaved:
            # 0.88 / 0.95 / 1 the time at 300x450, 0.87 / - / 1 at 600x900; it costs 0.7 GiB of peak
            # at 900x1350 (6.2 vs 5.5 / 5.3 GiB). PyTorch runs the same layers eagerly.
            taps.hybridize_alone(static_alloc=True, static_shape=True)
        return taps

    @classmethod
    def translate_error(cls, exc: BaseException) -> Optional[Exception]:
        return errors.translate(exc)

    @property
    def device(self) -> str:
        return devices.describe(self._ctx)

    def synchronize(self) -> None:
        devices.synchronize()

    def _native(self, array: onp.ndarray) -> np.ndarray:
        # Every input comes through here, from whichever thread runs it: the flag is per thread, so
        # it is asked at each entry, where PyTorch's process-wide settings are set once in __init__.
        devices.numpy_semantics()
        return np.array(onp.asarray(array, dtype=onp.float32), dtype=onp.float32, ctx=self._ctx)

    def _numpy(self, value: np.ndarray) -> onp.ndarray:
        return value.asnumpy()  # waits for the value: MXNet's one implicit synchronisation point

    # -- stages --------------------------------------------------------------
    def extract_features(self, x: onp.ndarray, layers: Sequence[int]) -> list[onp.ndarray]:
        # Training-mode forward without recording: the same kernels as the training steps (see
        # TRAINING_MODE above), so the content loss of the content image is exactly 0 at step 1.
        # Imperative, never hybridized: targets run once per size, so a graph would be built for one
        # call and, statically allocated, keep its buffers for the whole run (+1.1 GiB at 900x1350).
        with autograd.train_mode():
            return [self._numpy(y) for y in FeatureTaps(self._features, layers)(self._native(x))]

    @staticmethod
    def _floats(terms: LossTerms[np.ndarray]) -> LossTerms[float]:
        # One asnumpy() for all four numbers: one wait on the engine.
        return LossTerms(*np.concatenate([t.reshape(1) for t in terms]).asnumpy().tolist())

    def evaluate(self, x: onp.ndarray) -> tuple[LossTerms[float], onp.ndarray]:
        image = self._native(x)
        image.attach_grad()
        with autograd.record(train_mode=TRAINING_MODE):
            terms = self._objective(image, self._layers, self._content, self._grams, self._loss_weights)
        terms.total.backward()
        return self._floats(terms), self._numpy(image.grad)

    # -- training ------------------------------------------------------------
    def start(self, init: onp.ndarray, targets: Targets, loss_weights: LossWeights, adam: AdamSettings, lr: float,
              moments: Optional[AdamMoments] = None) -> None:
        # The synthesized image is the only parameter (the chapter wraps it in a Block).
        self._x = gluon.Parameter("synthesized_image", shape=init.shape)
        self._x.initialize(ctx=self._ctx)
        self._x.set_data(self._native(init))
        self.use_targets(targets, loss_weights)
        self._adam = adam
        self._trainer = make_trainer({"synthesized_image": self._x}, adam, lr)
        self._updates = 0
        if moments is not None:
            set_moments(self._trainer, moments.step, self._native(moments.m), self._native(moments.v))
            self._updates = moments.step

    def adam_moments(self) -> AdamMoments:
        step, mean, var = get_moments(self._trainer)
        if mean is None:
            zeros = onp.zeros(self._x.shape, onp.float32)
            return AdamMoments(0, zeros, zeros.copy())
        return AdamMoments(step, self._numpy(mean), self._numpy(var))

    def clip_image(self) -> None:
        self._x.set_data(transforms.clip(self._x.data(), self.convention))

    def _forward(self) -> LossTerms[np.ndarray]:
        devices.numpy_semantics()
        # No zero_grad: grad_req='write' makes each backward overwrite the gradient (PyTorch adds).
        with autograd.record(train_mode=TRAINING_MODE):
            return self._objective(self._x.data(), self._layers, self._content, self._grams, self._loss_weights)

    def _backward(self, terms: LossTerms[np.ndarray]) -> None:
        terms.total.backward()

    def _update(self) -> None:
        self._updates += 1
        prepare_update(self._trainer, self._adam, self._updates)
        # step(1): Trainer divides gradients by batch_size before Adam sees them, which for
        # Adam acts like multiplying epsilon by it; one image means batch size 1.
        self._trainer.step(1)

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self._trainer, lr)

    def image(self) -> onp.ndarray:
        return self._numpy(self._x.data())

    def _image_copy(self) -> np.ndarray:
        return self._x.data().copy()
