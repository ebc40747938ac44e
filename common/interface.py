"""The contract every backend fulfils: the computation, and nothing else.

Only NumPy arrays and Python floats cross it. A picture is (height, width, 3) RGB in [0, 1];
an image (the network's input, in its units) and features are NCHW float32 with N = 1. A backend
subclasses :class:`StyleBackend`; an abstract method it forgets makes instantiation fail at once.
Capability flags (``adam_epsilon``, ``precisions``, ``compiles``) let common code ask what a
backend does instead of checking its name.

What the tooling asks of a framework besides the computation (whether a GPU works, free and peak
device memory, versions and settings for reports, pretrained weights, weight files, the chapter's
image reader) is not here: each backend package has a ``tools`` module of plain functions, which
``common.registry.framework_tools(name)`` hands out. Timing a step stage by stage is written once
for every backend, in ``backends/timing.py`` (``common.registry.timed_step``).

What a new backend (JAX, say) writes, counted:

- 18 abstract methods here: ``translate_error``, ``device``, ``synchronize``, ``extract_features``,
  ``evaluate``, ``start``, ``adam_moments``, ``clip_image``, ``set_learning_rate``, ``image``,
  and the 8 on native arrays that the methods written here once are built from: ``_native``,
  ``_numpy``, ``_make_taps``, ``_forward``, ``_backward``, ``_update``, ``_floats``, ``_image_copy``;
  and the class attributes ``name``, ``framework``, ``adam_epsilon`` (``precisions`` and
  ``compiles`` have defaults, ``_target`` is the one method with a default a backend may replace);
- 6 functions on native arrays in the two modules it names as ``transforms`` (``preprocess``,
  ``postprocess``) and ``losses`` (``content_loss``, ``gram``, ``style_loss``, ``tv_loss``);
- 8 functions in its ``tools`` module, mirroring ``backends/torch/tools.py``: ``gpu_status``,
  ``free_gpu_memory_gib``, ``environment``, ``memory_peak_gib``, ``reset_memory_peak`` (the last two
  may say None and do nothing, as MXNet's do), and ``fetch_pretrained``, ``read_weights_file``,
  ``chapter_image``, which only a backend whose registry entry offers pretrained sources, weight
  files or a chapter tab needs (elsewhere they may just raise NotImplementedError);
- its entry in ``common.registry.BACKENDS``.

In all 18 + 8 = 26 methods and tools functions (3 of them optional), plus the 6 array functions.
"""
from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Literal, Mapping, Optional, Sequence

import numpy as np

from .config import AdamSettings, LossWeights

from .execution import Execution
from .conventions import InputConvention
from .errors import OutOfMemory, Overflow
from .layers import Network
from .objective import weighted_losses
from .terms import AdamMoments, LossTerms, Targets
from .weights import Weights, require

__all__ = ["GpuStatus", "StyleBackend"]


@dataclass(frozen=True)
class GpuStatus:
    usable: bool
    detail: str  # the GPU's name, or why none can be used


class StyleBackend(ABC):
    """One framework's implementation of Gatys style transfer over a frozen VGG (16 or 19)."""

    name: ClassVar[str]  # registry key: "torch", "mxnet"
    framework: ClassVar[str]  # human name with version, for reports
    # Where the framework's own Adam adds epsilon: "corrected" = m_hat/(sqrt(v_hat)+eps) (PyTorch,
    # Kingma & Ba Algorithm 1); "uncorrected" = bias corrections folded into the step size and
    # m/(sqrt(v)+eps) (MXNet, Kingma & Ba section 2's "efficient" form).
    adam_epsilon: ClassVar[Literal["corrected", "uncorrected"]]
    # What the backend can run, asked before it is built: precisions of the feature network, and
    # whether it has a compile step (torch.compile; MXNet's nearest, hybridize, is always on).
    precisions: ClassVar[tuple[str, ...]] = ("fp32",)
    compiles: ClassVar[bool] = False

    # The stages are written once per framework in its ``transforms`` and ``losses`` modules;
    # the wrappers here only move arrays across the interface.
    transforms: ClassVar[Any]  # module with preprocess, postprocess on native arrays
    losses: ClassVar[Any]  # module with content_loss, gram, style_loss, tv_loss on native arrays

    @abstractmethod
    def _native(self, array: np.ndarray) -> Any:
        """NumPy -> a float32 framework array on this backend's device."""

    @abstractmethod
    def _numpy(self, value: Any) -> np.ndarray:
        """Framework array -> NumPy (waits for the value)."""

    network: Network  # VGG-16 or VGG-19, as the weights say
    convention: InputConvention  # how a picture becomes the network's input, as the weights say

    # -- setup ---------------------------------------------------------------
    def __init__(self, weights: Mapping[str, np.ndarray], *, last_layer: int, device: str = "cpu",
                 execution: Execution = Execution()) -> None:
        """Build the weights' network's ``features`` cut after ``last_layer`` from neutral weights
        (``common.weights.Weights``; a plain mapping is VGG-19 in torchvision's convention), on
        ``device`` ("cpu", "gpu" or "auto"), run as ``execution`` says (frozen and optimized by
        default). A backend calls this first, then builds its network from ``self.weights``."""
        self.weights = weights if isinstance(weights, Weights) else Weights(weights)
        self.network, self.convention = self.weights.network, self.weights.convention
        require(self.weights, last_layer)
        self._execution = execution.validate()
        self._taps_cache: dict[tuple[int, ...], Callable[[Any], list[Any]]] = {}
        self._kept: dict[int, Any] = {}

    # -- errors ----------------------------------------------------------------
    @classmethod
    @abstractmethod
    def translate_error(cls, exc: BaseException) -> Optional[Exception]:
        """The neutral error for one of the framework's own: OutOfMemory for a failed allocation,
        Overflow for arithmetic it refuses; None for anything else (a bug, to be raised as is)."""

    @classmethod
    @contextlib.contextmanager
    def errors(cls) -> Iterator[None]:
        """Inside it, the framework's failed allocations raise OutOfMemory (a MemoryError) and its
        refused arithmetic Overflow, whatever words the framework uses for them."""
        try:
            yield
        except (OutOfMemory, Overflow, KeyboardInterrupt):
            raise
        except Exception as exc:
            neutral = cls.translate_error(exc)
            if neutral is None:
                raise
            raise neutral from exc

    @property
    @abstractmethod
    def device(self) -> str:
        """Where the work runs, in words (``cpu``, ``cuda:0 (NVIDIA H100)``)."""

    @abstractmethod
    def synchronize(self) -> None:
        """Wait until all queued work is done (a no-op for eager CPU frameworks)."""

    # -- stages --------------------------------------------------------------
    def preprocess(self, picture: np.ndarray) -> np.ndarray:
        """(H, W, 3) RGB in [0, 1] -> (1, 3, H, W) in the network's units (its input convention)."""
        return self._numpy(self.transforms.preprocess(self._native(picture), self.convention))

    def postprocess(self, x: np.ndarray) -> np.ndarray:
        """(1, 3, H, W) in the network's units -> (H, W, 3) RGB clipped to [0, 1]."""
        return self._numpy(self.transforms.postprocess(self._native(x), self.convention))

    @abstractmethod
    def extract_features(self, x: np.ndarray, layers: Sequence[int]) -> list[np.ndarray]:
        """Outputs of the given ``features`` indices for input ``x``, in the order asked."""

    def gram(self, y: np.ndarray) -> np.ndarray:
        """(1, c, h, w) -> (c, c): X X^T / (c h w) with X the (c, h w) reshape."""
        return self._numpy(self.losses.gram(self._native(y)))

    # -- the objective on native arrays, written once for both frameworks --------------
    @abstractmethod
    def _make_taps(self, layers: tuple[int, ...]) -> Callable[[Any], list[Any]]:
        """native image -> native features at ``layers``; built once per layer set (see _taps)."""

    def _taps(self, layers: Sequence[int]) -> Callable[[Any], list[Any]]:
        # One per layer set: a new hybridized or compiled block would rebuild its graph each time.
        key = tuple(layers)
        if key not in self._taps_cache:
            self._taps_cache[key] = self._make_taps(key)
        return self._taps_cache[key]

    def _target(self, array: np.ndarray) -> Any:
        """A content target as a native array (a backend may pick its memory layout)."""
        return self._native(array)

    def _prepare(self, targets: Targets) -> tuple[tuple[int, ...], dict[int, Any], dict[int, Any]]:
        return (targets.layers, {i: self._target(y) for i, y in targets.content.items()},
                {i: self._native(g) for i, g in targets.grams.items()})

    def _objective(self, x: Any, layers: tuple[int, ...], content: Mapping[int, Any], grams: Mapping[int, Any],
                   loss_weights: LossWeights) -> LossTerms[Any]:
        features = dict(zip(layers, self._taps(layers)(x)))
        return weighted_losses(self.losses, features, x, content, grams, loss_weights)

    def use_targets(self, targets: Targets, loss_weights: LossWeights) -> None:
        """Fix what ``evaluate`` and the training steps pull towards (converted once, kept native)."""
        self._layers, self._content, self._grams = self._prepare(targets)
        self._loss_weights = loss_weights

    @abstractmethod
    def evaluate(self, x: np.ndarray) -> tuple[LossTerms[float], np.ndarray]:
        """The weighted losses at image ``x`` and d(total)/dx for the targets in use, without training."""

    # -- training ------------------------------------------------------------
    @abstractmethod
    def start(self, init: np.ndarray, targets: Targets, loss_weights: LossWeights, adam: AdamSettings, lr: float,
              moments: Optional[AdamMoments] = None) -> None:
        """Make ``init`` the trained parameter and create the framework's own Adam, fresh or
        continuing from ``moments`` (whose arrays have ``init``'s shape)."""

    @abstractmethod
    def adam_moments(self) -> AdamMoments:
        """Adam's moments now, in neutral form (t = 0 and zero moments before the first update)."""

    @abstractmethod
    def clip_image(self) -> None:
        """Clip the trained image into the [0, 1] pixel range (per channel, in network units)."""

    def step(self) -> LossTerms[float]:
        """Losses at the current image, then one Adam update; returns the losses before it."""
        terms = self._forward()
        self._backward(terms)
        self._update()
        return self._floats(terms)

    # The three parts of a step, on native arrays (framework scalars in LossTerms); backends/timing.py
    # times them one by one for the bench and compare.py, nothing in common/ calls them.
    @abstractmethod
    def _forward(self) -> LossTerms[Any]: ...

    @abstractmethod
    def _backward(self, terms: LossTerms[Any]) -> None: ...

    @abstractmethod
    def _update(self) -> None: ...

    @staticmethod
    @abstractmethod
    def _floats(terms: LossTerms[Any]) -> LossTerms[float]:
        """The four framework scalars as floats, in one device-to-host copy."""

    @abstractmethod
    def set_learning_rate(self, lr: float) -> None: ...

    @abstractmethod
    def image(self) -> np.ndarray:
        """The current synthesized image, (1, 3, H, W) in network units."""

    @abstractmethod
    def _image_copy(self) -> Any:
        """A copy of the current image that stays on the device."""

    def keep(self, slot: int) -> None:
        """Keep a device-side copy of the current image in ``slot``: no host transfer, no wait."""
        self._kept[slot] = self._image_copy()

    def kept_image(self, slot: int) -> np.ndarray:
        """The image ``keep`` put in ``slot``, as (1, 3, H, W) NumPy."""
        return self._numpy(self._kept[slot])

