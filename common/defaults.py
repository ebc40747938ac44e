"""What a run defaults to for the weights' input convention: loss weights and learning rates,
which both depend on the network's units (torchvision's are the chapter's)."""
from __future__ import annotations

from dataclasses import dataclass

from .config import LossWeights


@dataclass(frozen=True)
class ConventionDefaults:
    """What a run defaults to for weights trained in one input convention: the loss weights and
    Adam's learning rates both depend on the network's units."""

    loss_weights: LossWeights
    lr: float  # the schedule's starting rate
    scale_lr: float  # the rate at each size after the first


# torchvision's are the chapter's. Caffe-convention inputs are r = 57.4 times larger (255 over
# ImageNet's std, 0.226 on average, per picture unit): an Adam step moves r times fewer picture
# levels, so the rates are r times the chapter's (the same steps in the picture); a content loss
# (a mean of squared features) is about r^2 larger, a style loss (of Gram matrices) r^4 and total
# variation (on the network's input) r, which would make the chapter's balance style 1e4 / r^2 =
# 3.0 and TV 10 r = 574. TV 0, by looking at the pictures with a texture guard (docs/gallery.md:
# the trained VGG-16, two photo-and-painting pairs, 300x450, --recipe fast and L-BFGS): any TV
# weight left the picture smoother than the photo itself (TV 57: local variation 0.015 and 0.005
# against the photos' 0.029; TV 2: 0.035 and 0.019), TV 0 carries the painting's texture (0.068
# against autumn-oak's 0.064) and keeps the content. Style 3 is kept: style 10 changed less.
DEFAULTS: dict[str, ConventionDefaults] = {
    "torchvision": ConventionDefaults(LossWeights(), 0.3, 0.05),
    "caffe": ConventionDefaults(LossWeights(content=1.0, style=3.0, tv=0.0), 17.2, 2.87),
}


def defaults_for(convention: str) -> ConventionDefaults:
    return DEFAULTS.get(convention, DEFAULTS["torchvision"])
