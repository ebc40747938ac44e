"""The differences between MXNet and PyTorch that a port of neural style transfer runs into, each
a function that makes the trap happen and returns what it measured. The lesson shows the numbers;
tests/backends/test_framework_traps.py asserts them: one code path for both. MXNet is spoken in the
chapter's NumPy dialect (``mxnet.np``, ``npx``); each function imports only the frameworks it
compares."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as onp  # host NumPy; inside the MXNet functions ``np`` is mxnet.np, as in the chapter

# Spread over 1e-9 .. 1e-3, like this problem's pixel gradients: where the two Adams part.
GRADIENTS = [onp.random.default_rng(t).standard_normal(500) * 10.0 ** onp.random.default_rng(99 + t).uniform(-9, -3, 500)
             for t in range(20)]


def _mxnet():
    import mxnet as mx
    from mxnet import npx

    npx.set_np()  # the chapter's first line; it holds for this thread only (see thread_state)
    return mx


# --- reading and resizing ------------------------------------------------------------------------

def chapter_resizes(folder: Path, size: tuple[int, int] = (30, 40)) -> dict[str, object]:
    """A 120x180 picture of one-pixel noise (detail finer than the target grid) read at ``size`` the
    chapter's two ways: its MXNet tab's ``image.imresize`` (OpenCV bilinear, no antialiasing,
    width first) and its PyTorch tab's torchvision ``Resize`` on a PIL image (antialiased), beside
    the project's reader."""
    from PIL import Image

    from backends.mxnet.tools import chapter_image as mxnet_chapter
    from backends.torch.tools import chapter_image as torch_chapter
    from common.tools.io.pictures import read_image

    fine = (onp.random.default_rng(0).random((120, 180, 3)) > 0.5).astype(onp.uint8) * 255
    path = folder / "fine.png"
    Image.fromarray(fine).save(path)
    opencv, pil, ours = (read(path, size) for read in (mxnet_chapter, torch_chapter, read_image))
    return {"shapes": [opencv.shape, pil.shape, ours.shape], "opencv std": float(opencv.std()),
            "pillow std": float(pil.std()), "largest difference": float(onp.abs(opencv - pil).max()),
            "pillow is the project's": bool(onp.array_equal(pil, ours))}


# --- the optimizer -------------------------------------------------------------------------------

def gluon_adam(grads=GRADIENTS, align: bool = False, lr: float = 0.3) -> onp.ndarray:
    """The weights after Gluon's Adam takes ``grads`` from zero; ``align`` sets the project's
    per-step epsilon (backends/mxnet/optimizer.py) that makes it PyTorch's."""
    mx = _mxnet()
    from mxnet import autograd, gluon, np

    from backends.mxnet.optimizer import make_trainer, prepare_update
    from common.config import AdamSettings

    adam = AdamSettings(align_epsilon=align)
    w = gluon.Parameter("w", shape=(len(grads[0]),), dtype="float64")
    w.initialize(mx.init.Zero(), ctx=mx.cpu())
    trainer = make_trainer([w], adam, lr=lr)
    for t, g in enumerate(grads, start=1):
        with autograd.record():
            loss = (w.data() * np.array(g, dtype="float64")).sum()  # d loss / d w = g
        loss.backward()
        prepare_update(trainer, adam, t)
        trainer.step(1)
    return w.data().asnumpy()


def torch_adam(grads=GRADIENTS, lr: float = 0.3) -> onp.ndarray:
    """The weights after ``torch.optim.Adam`` takes ``grads`` from zero."""
    import torch

    w = torch.zeros(len(grads[0]), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=lr)
    for g in grads:
        optimizer.zero_grad()
        (w * torch.from_numpy(g)).sum().backward()
        optimizer.step()
    return w.detach().numpy()


def trainer_step_scale() -> dict[tuple[int, float], float]:
    """Gluon's first Adam update of a zero weight for (``Trainer.step``'s batch size, gradient):
    step(n) divides the gradient by n before Adam, which cancels but for epsilon."""
    mx = _mxnet()
    from mxnet import autograd, gluon

    def first_update(batch_size: int, grad: float) -> float:
        w = gluon.Parameter("w", shape=(1,))
        w.initialize(mx.init.Zero(), ctx=mx.cpu())
        trainer = gluon.Trainer([w], "adam", {"learning_rate": 0.1})
        with autograd.record():
            loss = (w.data() * grad).sum()
        loss.backward()
        trainer.step(batch_size)
        return float(w.data().item())

    return {(n, g): first_update(n, g) for n in (1, 100) for g in (1.0, 1e-7)}


def decay_rates(scheduler_first: bool, steps: int = 7) -> list[float]:
    """The rate each of ``steps`` PyTorch updates used under ``StepLR(step_size=3, gamma=0.5)``,
    stepping the scheduler before the optimizer (wrong) or after it (right)."""
    import warnings

    import torch

    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.Adam([w], lr=0.3)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
    used = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about exactly this misuse
        for _ in range(steps):
            if scheduler_first:
                scheduler.step()
            used.append(optimizer.param_groups[0]["lr"])
            w.sum().backward()
            optimizer.step()
            if not scheduler_first:
                scheduler.step()
    return used


# --- features and gradients ----------------------------------------------------------------------

def inplace_relu() -> dict[str, float | bool]:
    """Store each torchvision VGG layer's output, as the chapter's PyTorch loop does: with
    ``ReLU(inplace=True)`` the stored conv output is overwritten by the next layer."""
    import torch
    import torchvision

    torch.manual_seed(0)
    features = torchvision.models.vgg19(weights=None).features[:3].eval()
    x = torch.randn(1, 3, 16, 16)
    stored = []
    with torch.no_grad():
        y = x
        for layer in features:
            y = layer(y)
            stored.append(y)
        conv = features[0](x)
    return {"conv_min": float(conv.min()), "stored_is_relu": bool(torch.equal(stored[0], torch.relu(conv))),
            "stored_is_conv": bool(torch.equal(stored[0], conv))}


def transpose_copies() -> dict[str, object]:
    """Whether writing into ``x.T`` changes ``x``: PyTorch's ``.T`` is a view, ``mxnet.np``'s a new
    array. So the chapter's ``np.dot(x, x.T)`` copies each feature map (and, recorded, its
    gradient); the legacy ``nd.dot(f, f, transpose_b=True)`` reads ``x`` in place and gives the
    same Gram matrix to rounding."""
    mx = _mxnet()
    import torch
    from mxnet import np

    x_mx, x_pt = np.zeros((2, 3)), torch.zeros(2, 3)
    view_mx, view_pt = x_mx.T, x_pt.T
    view_mx[0, 1] = 1.0
    view_pt[0, 1] = 1.0
    features = np.array(onp.random.default_rng(0).random((64, 500), onp.float32))
    flat = features.as_nd_ndarray()
    chapter, legacy = np.dot(features, features.T), mx.nd.dot(flat, flat, transpose_b=True).as_np_ndarray()
    return {"MXNet: writing x.T changed x": bool(x_mx[1, 0] == 1.0),
            "PyTorch: writing x.T changed x": bool(x_pt[1, 0] == 1.0),
            "Gram, nd.dot with transpose_b against np.dot(x, x.T), relative difference":
                float(onp.abs((legacy - chapter).asnumpy()).max() / onp.abs(chapter.asnumpy()).max())}


def maxpool_gradient() -> dict[bool, float]:
    """The largest error of MXNet's MaxPool2D gradient against NumPy's, recording and
    differentiating with ``train_mode`` True and False (MXNet 1.9.1 with oneDNN gets the second
    wrong). ``autograd.record()``'s default is True, the chapter's mode."""
    _mxnet()
    from mxnet import autograd, gluon, np

    pool = gluon.nn.MaxPool2D(strides=2)
    data = onp.random.default_rng(0).standard_normal((1, 4, 6, 6)).astype(onp.float32)
    # NumPy: the gradient of sum(maxpool(x)^2) is 2 * max at each window's argmax.
    windows = data.reshape(1, 4, 3, 2, 3, 2).transpose(0, 1, 2, 4, 3, 5).reshape(1, 4, 3, 3, 4)
    expected = onp.zeros_like(data)
    arg = windows.argmax(-1)
    for c, i, j in onp.ndindex(4, 3, 3):
        k = arg[0, c, i, j]
        expected[0, c, 2 * i + k // 2, 2 * j + k % 2] = 2 * windows[0, c, i, j, k]
    errors = {}
    for train_mode in (True, False):
        x = np.array(data)
        x.attach_grad()
        with autograd.record(train_mode=train_mode):
            loss = (pool(x) ** 2).sum()
        # backward() in the recording's own mode: record()'s docstring calls any other undefined.
        loss.backward(train_mode=train_mode)
        errors[train_mode] = float(onp.abs(x.grad.asnumpy() - expected).max())
    return errors


def gradients_twice() -> dict[str, list[float]]:
    """The gradient of sum(2x) after two backward passes: PyTorch adds into ``.grad``, Gluon
    (grad_req 'write') overwrites it."""
    import torch

    t = torch.ones(3, requires_grad=True)
    for _ in range(2):
        (2 * t).sum().backward()
    _mxnet()
    from mxnet import autograd, np

    m = np.ones(3)
    m.attach_grad()
    for _ in range(2):
        with autograd.record():
            y = (2 * m).sum()
        y.backward()
    return {"torch": t.grad.tolist(), "mxnet": m.grad.asnumpy().tolist()}


def deferred_shapes() -> dict[str, tuple[int, ...]]:
    """A 3x3 convolution to 64 channels, its input channels not given: Gluon leaves the weight's
    shape open (-1 under NumPy semantics, 0 in the legacy API) until the first forward; PyTorch
    needs them when the layer is built."""
    _mxnet()
    from mxnet import gluon, np

    conv = gluon.nn.Conv2D(64, kernel_size=3, padding=1)
    conv.initialize()
    before = tuple(conv.weight.shape)
    conv(np.zeros((1, 3, 8, 8)))
    import torch

    return {"gluon before": before, "gluon after": tuple(conv.weight.shape),
            "torch": tuple(torch.nn.Conv2d(3, 64, kernel_size=3, padding=1).weight.shape)}


# --- execution -----------------------------------------------------------------------------------

def mxnet_timing(n: int = 800, repeats: int = 8) -> dict[str, float]:
    """Seconds until ``repeats`` chained n x n products return and until they are done: MXNet's
    engine runs operators asynchronously, so only a read (``wait_to_read``, ``asnumpy``) waits."""
    _mxnet()
    from mxnet import np

    a = np.random.uniform(size=(n, n)) / n
    a.wait_to_read()
    started = time.perf_counter()
    b = a
    for _ in range(repeats):
        b = np.dot(b, a)
    returned = time.perf_counter() - started
    b.wait_to_read()
    return {"returned": returned, "done": time.perf_counter() - started}


def torch_timing(n: int = 800, repeats: int = 8) -> dict[str, float]:
    """The same products in PyTorch on the CPU: each returns when it is done (on a GPU, CUDA too is
    asynchronous and ``torch.cuda.synchronize()`` plays ``wait_to_read``'s part)."""
    import torch

    a = torch.rand(n, n, dtype=torch.float64) / n
    started = time.perf_counter()
    b = a
    for _ in range(repeats):
        b = b @ a
    returned = time.perf_counter() - started
    b.sum().item()
    return {"returned": returned, "done": time.perf_counter() - started}


def _in_a_thread(read):
    seen = []
    thread = threading.Thread(target=lambda: seen.append(read()))
    thread.start()
    thread.join()
    return seen[0]


def mxnet_thread_state() -> dict[str, bool]:
    """What a new thread sees of the starting thread's ``npx.set_np()`` and ``autograd.record()``:
    neither; both are per thread in MXNet 1.9.1."""
    _mxnet()
    from mxnet import autograd, npx

    with autograd.record():
        return {"np here": npx.is_np_array(), "np in a new thread": _in_a_thread(npx.is_np_array),
                "recording here": autograd.is_recording(),
                "recording in a new thread": _in_a_thread(autograd.is_recording)}


def torch_thread_state() -> dict[str, bool]:
    """The same for PyTorch's ``torch.no_grad()``: per thread too, so a new thread records."""
    import torch

    with torch.no_grad():
        return {"grad here": torch.is_grad_enabled(), "grad in a new thread": _in_a_thread(torch.is_grad_enabled)}


# --- saving and loading --------------------------------------------------------------------------

def parameter_names(folder: Path) -> dict[str, object]:
    """The same two-convolution network built twice in each framework: the names each gives its
    parameters, and whether saving one and loading into the other restores it."""
    mx = _mxnet()
    from mxnet import gluon, np

    def gluon_net():
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Conv2D(4, 3, in_channels=3), gluon.nn.Activation("relu"), gluon.nn.Conv2D(4, 3, in_channels=4))
        net.initialize(mx.init.Normal(0.1))
        return net

    first, second = gluon_net(), gluon_net()
    first.save_parameters(str(folder / "net.params"))
    second.load_parameters(str(folder / "net.params"))
    x = np.random.uniform(size=(1, 3, 8, 8))
    gluon_same = bool((first(x) == second(x)).all())
    import torch

    def torch_net():
        return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.Conv2d(4, 4, 3))

    a, b = torch_net(), torch_net()
    torch.save(a.state_dict(), folder / "net.pt")
    b.load_state_dict(torch.load(folder / "net.pt"))
    t = torch.rand(1, 3, 8, 8)
    return {"collect_params, first": list(first.collect_params().keys()),
            "collect_params, second": list(second.collect_params().keys()),
            "save_parameters": sorted(mx.nd.load(str(folder / "net.params")).keys()),
            "state_dict": list(a.state_dict().keys()), "gluon restored": gluon_same,
            "torch restored": bool(torch.equal(a(t), b(t)))}


def devices() -> dict[str, object]:
    """What each framework calls a device and how many GPUs it sees here."""
    mx = _mxnet()
    import torch

    return {"mxnet": f"{mx.cpu()} / mx.gpu(0); {mx.context.num_gpus()} GPU(s)",
            "torch": f"{torch.device('cpu')} / torch.device('cuda', 0); {torch.cuda.device_count()} GPU(s)"}


# --- what the lesson states, each shown -----------------------------------------------------------

def feature_counts() -> dict[str, int]:
    """Children of each zoo's ``vgg19().features``: Gluon appends the classifier's Dense and
    Dropout layers to its 37 convolution, ReLU and pooling layers; torchvision keeps them apart."""
    _mxnet()
    import torchvision
    from mxnet.gluon.model_zoo import vision

    gluon_features = vision.vgg19(pretrained=False).features
    return {"Gluon vgg19().features": len(gluon_features),
            "of them Dense or Dropout": sum(type(b).__name__ in ("Dense", "Dropout") for b in gluon_features),
            "torchvision vgg19().features": len(torchvision.models.vgg19(weights=None).features)}


def lazy_shapes() -> dict[str, object]:
    """torch's ``LazyConv2d`` defers its input channels to the first call, as a Gluon layer built
    without ``in_channels`` does."""
    import torch

    conv = torch.nn.LazyConv2d(64, kernel_size=3, padding=1)
    before = type(conv.weight).__name__
    conv(torch.zeros(1, 3, 8, 8))
    return {"torch LazyConv2d before": before, "torch LazyConv2d after": tuple(conv.weight.shape)}


def chapter_torch_tab_reads() -> dict[int, str]:
    """What the chapter's PyTorch tab really stores at its indices [0, 5, 10, 19, 28] and [25]
    (conv outputs): its loop keeps ``X`` after each layer of torchvision's VGG-19, whose
    ``ReLU(inplace=True)`` then overwrites every kept conv output but the last layer run."""
    import torch
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.vgg19(weights=None).features[:29]
    x = torch.rand(1, 3, 32, 32)
    kept, y = {}, x
    with torch.no_grad():
        for i, layer in enumerate(net):  # the chapter's extract_features, as written
            y = layer(y)
            if i in (0, 5, 10, 19, 28, 25):
                kept[i] = y
        conv_out = {}
        y = x
        for i, layer in enumerate(net):  # the same network with the ReLUs not in place
            y = torch.relu(y) if isinstance(layer, torch.nn.ReLU) else layer(y)
            conv_out[i] = y
    return {i: "conv output, as asked" if torch.equal(kept[i], conv_out[i]) else
            ("ReLU output: overwritten in place" if torch.equal(kept[i], torch.relu(conv_out[i])) else "other")
            for i in sorted(kept)}


def np_views() -> dict[str, object]:
    """``mxnet.np``'s documented view and product without a copy: ``reshape_view`` shares its
    array's memory, and ``npx.batch_dot(a, b, transpose_b=True)`` multiplies by a transpose
    without making it."""
    _mxnet()
    from mxnet import np, npx

    x = np.zeros((2, 3))
    x.reshape_view(3, 2)[0, 0] = 1.0
    copied = x.reshape(3, 2)
    copied[0, 1] = 1.0
    f = np.array(onp.random.default_rng(0).random((64, 500), onp.float32))
    batched = npx.batch_dot(f[None], f[None], transpose_b=True)[0]
    chapter = np.dot(f, f.T)
    return {"writing x.reshape_view(3, 2) changed x": bool(x[0, 0] == 1.0),
            "writing x.reshape(3, 2) changed x": bool(x[0, 1] == 1.0),
            "npx.batch_dot(f, f, transpose_b=True) against np.dot(f, f.T), relative difference":
                float(onp.abs((batched - chapter).asnumpy()).max() / onp.abs(chapter.asnumpy()).max())}


def late_errors() -> dict[str, str]:
    """Where each framework raises an operator's error: MXNet's engine runs the operator after the
    call has returned, so the error comes at the next read; PyTorch raises at the line."""
    _mxnet()
    import torch
    from mxnet import np

    seen = {}
    try:
        b = np.random.normal(0, -1, size=(2, 2))  # a negative scale: invalid
        seen["MXNet, the failing line"] = "returned"
        b.asnumpy()
        seen["MXNet, the next read"] = "returned"
    except Exception as exc:  # MXNet maps the operator's error to a Python type (here ValueError)
        seen["MXNet, the next read"] = f"raised {type(exc).__name__}"
    try:
        torch.normal(0.0, -1.0, size=(2, 2))
        seen["PyTorch, the failing line"] = "returned"
    except Exception as exc:
        seen["PyTorch, the failing line"] = f"raised {type(exc).__name__}"
    return seen


def schedulers(updates: int = 7, step: int = 3, factor: float = 0.5) -> dict[str, list[float]]:
    """The rate of each update under Gluon's ``FactorScheduler(step, factor)``, which the Trainer
    calls with the update's 1-based count, and under torch's ``StepLR`` stepped after each update."""
    _mxnet()
    import torch
    from mxnet import lr_scheduler

    decay = lr_scheduler.FactorScheduler(step=step, factor=factor, base_lr=0.3)
    gluon_rates = [decay(t) for t in range(1, updates + 1)]
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=0.3)
    steplr = torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=factor)
    torch_rates = []
    for _ in range(updates):
        torch_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        steplr.step()
    return {"Gluon FactorScheduler": gluon_rates, "torch StepLR": torch_rates}
