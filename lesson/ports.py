"""The lesson's port-this exercises: the chapter's ``SynthesizedImage`` (Gluon Block -> torch
Module) and ``get_inits`` (PyTorch -> MXNet), an answer to each, and the checks the notebook runs
on a learner's port (or, when none is given, on the answer)."""
from __future__ import annotations

import numpy as onp


# --- Exercise A: SynthesizedImage in PyTorch -----------------------------------------------------
def _torch_answer():
    import torch

    class SynthesizedImage(torch.nn.Module):
        def __init__(self, img_shape):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.rand(*img_shape))

        def forward(self):
            return self.weight

    return SynthesizedImage


class _Lazy:  # the answer is built on first use: importing this module imports no framework
    def __init__(self, make):
        self._make, self._made = make, None

    def __call__(self, *args, **kwargs):
        self._made = self._made or self._make()
        return self._made(*args, **kwargs)


SynthesizedImage = _Lazy(_torch_answer)


def check_synthesized_image(cls) -> str:
    """A torch port of the chapter's SynthesizedImage: forward() returns a trainable parameter of
    the shape asked for, and one Adam step on a loss of it changes it."""
    import torch

    image = cls((1, 3, 4, 5))
    assert isinstance(image, torch.nn.Module), "SynthesizedImage should be a torch.nn.Module, as a Block is Gluon's"
    params = list(image.parameters())
    assert len(params) == 1 and tuple(params[0].shape) == (1, 3, 4, 5), "one parameter, of the picture's shape"
    picture = image()
    assert picture is params[0] or picture.data_ptr() == params[0].data_ptr(), "forward() returns the parameter itself"
    before = picture.detach().clone()
    optimizer = torch.optim.Adam(image.parameters(), lr=0.1)
    optimizer.zero_grad()
    (image() ** 2).sum().backward()
    optimizer.step()
    assert not torch.equal(before, image().detach()), "a step of the optimizer moves the picture"
    return f"checked: {getattr(cls, '__name__', 'the answer')} holds one trainable (1, 3, 4, 5) picture, as the Block does"


# --- Exercise B: get_inits in MXNet ---------------------------------------------------------------
def _gram(x):
    c = x.shape[1]
    f = x.reshape(c, -1)
    return f @ f.T / (c * f.shape[1])


def get_inits(X, lr, styles_Y):
    """The chapter's get_inits in MXNet: the picture (its Block's parameter data), the style Gram
    matrices and Gluon's Adam."""
    import mxnet as mx
    from mxnet import gluon, npx

    npx.set_np()

    class SynthesizedImage(gluon.Block):  # the chapter's MXNet Block
        def __init__(self, img_shape, **kwargs):
            super().__init__(**kwargs)
            self.weight = self.params.get("weight", shape=img_shape)  # as the chapter writes it

        def forward(self):
            return self.weight.data()

    gen_img = SynthesizedImage(X.shape)
    gen_img.initialize(mx.init.Constant(X), ctx=X.ctx, force_reinit=True)
    trainer = gluon.Trainer(gen_img.collect_params(), "adam", {"learning_rate": lr})
    styles_Y_gram = [_gram(Y) for Y in styles_Y]
    return gen_img(), styles_Y_gram, trainer


def check_get_inits(function) -> str:
    """An MXNet port of the chapter's get_inits: the picture starts as X, the Grams are the
    styles', and the trainer is Adam at lr and moves the picture after a recorded backward()."""
    from mxnet import autograd, gluon, np, npx

    npx.set_np()
    rng = onp.random.default_rng(0)
    X = np.array(rng.random((1, 3, 4, 5), dtype=onp.float32))
    styles = [np.array(rng.random((1, 8, 3, 3), dtype=onp.float32))]
    picture, grams, trainer = function(X, 0.1, styles)
    assert onp.array_equal(picture.asnumpy(), X.asnumpy()), "the picture starts as X"
    assert onp.allclose(grams[0].asnumpy(), _gram(styles[0]).asnumpy(), rtol=1e-5), "the Grams are the styles'"
    assert isinstance(trainer, gluon.Trainer) and trainer.learning_rate == 0.1, "a gluon.Trainer at lr"
    assert type(trainer._optimizer).__name__ == "Adam", "with Adam"
    params = list(trainer._params)
    with autograd.record():
        loss = (params[0].data() ** 2).sum()
    loss.backward()
    trainer.step(1)
    assert not onp.array_equal(params[0].data().asnumpy(), X.asnumpy()), "trainer.step(1) moves the picture"
    return f"checked: {getattr(function, '__name__', 'the answer')} starts at X, takes the styles' Grams and trains with Adam"
