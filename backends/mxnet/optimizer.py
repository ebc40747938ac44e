"""``gluon.Trainer`` with MXNet's own Adam over the image, and its learning rate.

MXNet's Adam folds both bias corrections into the step size,
    lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t),   w -= lr_t * m / (sqrt(v) + eps),
whereas PyTorch computes w -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
The two agree when MXNet's epsilon is eps * sqrt(1 - beta2^t); with ``align_epsilon``
``prepare_update`` sets exactly that before update t.
"""
from __future__ import annotations

import math

from mxnet import gluon, np

from common.config import AdamSettings


def make_trainer(params: gluon.ParameterDict, adam: AdamSettings, lr: float) -> gluon.Trainer:
    return gluon.Trainer(params, "adam", {"learning_rate": lr, "beta1": adam.beta1,
                                          "beta2": adam.beta2, "epsilon": adam.eps})


def aligned_epsilon(adam: AdamSettings, t: int) -> float:
    """MXNet's epsilon that makes update ``t`` (1-based) equal PyTorch's."""
    return adam.eps * math.sqrt(1.0 - adam.beta2 ** t)


def prepare_update(trainer: gluon.Trainer, adam: AdamSettings, t: int) -> None:
    if adam.align_epsilon:
        trainer.optimizer.epsilon = aligned_epsilon(adam, t)


def get_moments(trainer: gluon.Trainer) -> tuple[int, np.ndarray | None, np.ndarray | None]:
    """(t, mean, var) of the image (parameter index 0); the updater creates them at the first step."""
    updater = trainer._updaters[0]  # Gluon keeps one updater per device and exposes no public getter
    if 0 not in updater.states:
        return 0, None, None
    mean, var = updater.states[0]
    return trainer._optimizer._index_update_count.get(0, 0), mean, var


def set_moments(trainer: gluon.Trainer, step: int, mean: np.ndarray, var: np.ndarray) -> None:
    # What the updater's first call would create, filled in; t drives Adam's bias corrections.
    updater = trainer._updaters[0]
    # MXNet's Adam is a legacy operator: under set_np its state must still be legacy NDArrays.
    updater.states[0] = (mean.as_nd_ndarray(), var.as_nd_ndarray())
    updater.states_synced[0] = True
    trainer._optimizer._index_update_count[0] = step
    trainer._optimizer.num_update = step


def set_learning_rate(trainer: gluon.Trainer, lr: float) -> None:
    # Takes effect from the next update (as PyTorch's param_groups edit does).
    trainer.set_learning_rate(lr)
