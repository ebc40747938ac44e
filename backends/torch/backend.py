"""The PyTorch implementation of ``common.interface.StyleBackend``."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import torch

from common.config import AdamSettings, LossWeights

from common.execution import Execution
from common.interface import StyleBackend
from common.terms import AdamMoments, LossTerms, Targets

from . import device as devices
from . import errors, losses, transforms
from .optimizer import get_moments, make_adam, set_learning_rate, set_moments
from .vgg import FeatureTaps, build_features


class TorchBackend(StyleBackend):
    name = "torch"
    framework = f"PyTorch {torch.__version__}"
    adam_epsilon = "corrected"
    precisions = ("fp32", "bf16")
    compiles = True
    transforms = transforms
    losses = losses

    def __init__(self, weights: Mapping[str, np.ndarray], *, last_layer: int, device: str = "cpu",
                 execution: Execution = Execution()) -> None:
        self._device = devices.resolve_device(device)
        super().__init__(weights, last_layer=last_layer, device=device, execution=execution)
        # Threads and cudnn.benchmark are process-wide, set once here: with two PyTorch backends in
        # one process (compare.py, bench.py) both run with the settings of the one made last
        # (MXNet's backend sets nothing process-wide: its threads are fixed when MXNet loads).
        devices.apply_process_settings(self._device, execution.optimized)
        # channels_last (NHWC) spares oneDNN and cuDNN their layout reorders: measured here at
        # 300x450, 1.25 -> 1.13 s/step in fp32 and 0.67 -> 0.61 in bf16.
        self._channels_last = execution.optimized
        self._features = build_features(self.weights, last_layer, self._device, execution.frozen, self._channels_last)
        self._x: torch.Tensor | None = None

    def _make_taps(self, layers: tuple[int, ...]) -> FeatureTaps:
        taps = FeatureTaps(self._features, layers, self._execution.precision == "bf16", self._channels_last)
        if self._execution.compile:  # compiles at the first call of each grad mode: slow once
            taps = torch.compile(taps)
        return taps

    @classmethod
    def translate_error(cls, exc: BaseException) -> Optional[Exception]:
        return errors.translate(exc)

    @property
    def device(self) -> str:
        return devices.describe(self._device)

    def synchronize(self) -> None:
        devices.synchronize(self._device)

    def _native(self, array: np.ndarray) -> torch.Tensor:
        # A copy: torch.from_numpy would share memory, and Adam's in-place update of the image
        # would then silently rewrite the caller's array (MXNet's nd.array always copies).
        return torch.tensor(np.asarray(array, dtype=np.float32), device=self._device)

    def _numpy(self, value: torch.Tensor) -> np.ndarray:
        # copy=True: on the CPU .numpy() would share memory with the tensor, and the next in-place
        # Adam update would change an image the caller kept (MXNet's asnumpy() always copies).
        return value.detach().to("cpu", copy=True).numpy()

    # -- stages --------------------------------------------------------------
    def extract_features(self, x: np.ndarray, layers: Sequence[int]) -> list[np.ndarray]:
        with torch.inference_mode():  # targets need no autograd graph
            return [self._numpy(y) for y in self._taps(layers)(self._native(x))]

    def _target(self, array: np.ndarray) -> torch.Tensor:
        # In the features' memory layout: elementwise ops on mixed layouts are slow.
        layout = torch.channels_last if self._channels_last else torch.contiguous_format
        return self._native(array).contiguous(memory_format=layout)

    @staticmethod
    def _floats(terms: LossTerms[torch.Tensor]) -> LossTerms[float]:
        # One device-to-host copy for all four numbers (one synchronisation on a GPU).
        return LossTerms(*torch.stack([t.detach() for t in terms]).tolist())

    def evaluate(self, x: np.ndarray) -> tuple[LossTerms[float], np.ndarray]:
        image = self._native(x).requires_grad_(True)
        terms = self._objective(image, self._layers, self._content, self._grams, self._loss_weights)
        terms.total.backward()
        return self._floats(terms), self._numpy(image.grad)

    # -- training ------------------------------------------------------------
    def start(self, init: np.ndarray, targets: Targets, loss_weights: LossWeights, adam: AdamSettings, lr: float,
              moments: Optional[AdamMoments] = None) -> None:
        # The synthesized image is the only parameter (the chapter wraps it in a module).
        # In the features' layout, whatever strides ``init`` has: a reduction's summation order follows
        # the layout, so a resumed run's image must be laid out as the unbroken run's was.
        self._x = self._target(init).requires_grad_(True)
        self.use_targets(targets, loss_weights)
        self._optimizer = make_adam(self._x, adam, lr)
        if moments is not None:
            set_moments(self._optimizer, self._x, moments.step, self._target(moments.m), self._target(moments.v))

    def adam_moments(self) -> AdamMoments:
        step, m, v = get_moments(self._optimizer, self._x)
        return AdamMoments(step, self._numpy(m), self._numpy(v))

    def clip_image(self) -> None:
        with torch.no_grad():  # an in-place edit of a leaf that requires grad, outside autograd
            self._x.copy_(transforms.clip(self._x, self.convention))

    def _forward(self) -> LossTerms[torch.Tensor]:
        # PyTorch accumulates into .grad unless it is cleared (Gluon's grad_req='write' overwrites).
        self._optimizer.zero_grad(set_to_none=True)
        return self._objective(self._x, self._layers, self._content, self._grams, self._loss_weights)

    def _backward(self, terms: LossTerms[torch.Tensor]) -> None:
        terms.total.backward()

    def _update(self) -> None:
        self._optimizer.step()

    def set_learning_rate(self, lr: float) -> None:
        set_learning_rate(self._optimizer, lr)

    def image(self) -> np.ndarray:
        return self._numpy(self._x)

    def _image_copy(self) -> torch.Tensor:
        return self._x.detach().clone()
