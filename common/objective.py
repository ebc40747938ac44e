"""The style-transfer objective, written once for any framework's arrays.

A backend passes its own ``losses`` module (content_loss, gram, style_loss, tv_loss on
native arrays) and the features of the synthesized image; the weighting and summing
below is the same arithmetic in both frameworks, so it lives here and only here.
"""
from __future__ import annotations

from typing import Any, Mapping, Protocol, TypeVar

from .config import LossWeights
from .terms import LossTerms

T = TypeVar("T")


class LossFunctions(Protocol):
    def content_loss(self, y_hat: Any, y: Any) -> Any: ...
    def gram(self, y: Any) -> Any: ...
    def style_loss(self, y_hat: Any, gram_y: Any) -> Any: ...
    def tv_loss(self, y_hat: Any) -> Any: ...


def weighted_losses(fns: LossFunctions, features: Mapping[int, T], image: T,
                    content_targets: Mapping[int, T], gram_targets: Mapping[int, T],
                    loss_weights: LossWeights) -> LossTerms[T]:
    """content = w_c * sum over content layers, style = w_s * sum over style layers,
    tv = w_tv * tv(image), total = their sum (the chapter's ``sum(10 * styles_l + ...)``)."""
    content = loss_weights.content * sum(fns.content_loss(features[i], y) for i, y in content_targets.items())
    style = loss_weights.style * sum(fns.style_loss(features[i], g) for i, g in gram_targets.items())
    tv = loss_weights.tv * fns.tv_loss(image)
    return LossTerms(content, style, tv, content + style + tv)
