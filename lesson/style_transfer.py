# ---
# jupyter:
#   jupytext:
#     formats: py:percent,ipynb
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Neural style transfer in MXNet and in PyTorch, side by side
#
# This lesson follows the "Neural Style Transfer" chapter of *Dive into Deep Learning* stage by
# stage, with both frameworks in every cell: the two plain loops `lesson/loop_mxnet.py` and
# `lesson/loop_torch.py` (the whole algorithm, about 100 lines each, the same structure line for
# line), their source side by side with the lines that differ shaded, what each framework
# computes, and where a port from one to the other goes wrong. It ends with the chapter's
# exercises 1-3 answered with pictures from a trained network, made in both frameworks.
#
# Every number here is computed when the notebook runs. `python lesson/run.py` runs it (small and
# quick by default; `--size 200x300 --steps 100` for the prettier pictures) and writes the executed
# notebook. `pytest` runs it at a small size as part of the test suite. Each trap below calls the
# same function in `lesson/traps.py` that `tests/backends/test_framework_traps.py` asserts on.
#
# The photo and the painting are the chapter's (`rainier.jpg`, `autumn-oak.jpg`, d2l-ai/d2l-en,
# CC BY-SA 4.0); the pictures made from them here are derived works under the same licence, credit:
# *Dive into Deep Learning* (Zhang, Lipton, Li and Smola).

# %%
import os
import sys
import tempfile
from pathlib import Path

import numpy as onp
from IPython.display import HTML, Image as Picture, Markdown, display

ROOT = Path.cwd() if (Path.cwd() / "common").is_dir() else Path.cwd().parent  # the repository
sys.path[:0] = [str(ROOT), str(ROOT / "lesson")]

import loop_mxnet as mxl  # noqa: E402  the MXNet loop: mxnet.np, Gluon, autograd.record, Trainer
import loop_torch as ptl  # noqa: E402  the PyTorch loop: torch, torchvision, autograd, optim
import show  # noqa: E402
import traps  # noqa: E402

SIZE = tuple(int(v) for v in os.environ.get("LESSON_SIZE", "64x96").split("x"))  # (height, width)
STEPS = int(os.environ.get("LESSON_STEPS", "10"))  # L-BFGS evaluations per exercise picture
LOOP_STEPS = int(os.environ.get("LESSON_LOOP_STEPS", "6"))  # Adam steps of the two plain loops
WEIGHTS = os.environ.get("LESSON_WEIGHTS") or os.environ.get("STYLE_TRANSFER_TEST_WEIGHTS")
WORK = Path(tempfile.mkdtemp(prefix="lesson-"))


def relative(a, b) -> float:
    """max |a - b| / max |b|: one scale for the whole array."""
    a, b = onp.asarray(a, dtype=onp.float64), onp.asarray(b, dtype=onp.float64)
    return float(onp.abs(a - b).max() / max(onp.abs(b).max(), 1e-30))


def images() -> tuple[Path, Path]:
    """The chapter's photo and painting: LESSON_CONTENT and LESSON_STYLE, else downloaded."""
    if os.environ.get("LESSON_CONTENT") and os.environ.get("LESSON_STYLE"):
        return Path(os.environ["LESSON_CONTENT"]), Path(os.environ["LESSON_STYLE"])
    from common.tools.io.downloads import sample_image

    return sample_image("content"), sample_image("style")


CONTENT, STYLE = images()
print(f"size {SIZE[0]}x{SIZE[1]}; {STEPS} L-BFGS evaluations per exercise picture; the photo {CONTENT.name}, "
      f"the painting {STYLE.name}; weights {WEIGHTS or '(none given: the exercises use random ones)'}")

# %% [markdown]
# ## 1. Reading and resizing
#
# The two loops read with Pillow's bilinear filter, so both frameworks start from the same pixels.
# The chapter's two tabs do not: its MXNet tab resizes with `image.imresize` (OpenCV's bilinear
# filter, no antialiasing, width before height), its PyTorch tab with torchvision's `Resize` on a PIL
# image (antialiased). On a picture with detail finer than the target grid the difference is not
# rounding:

# %%
resized = traps.chapter_resizes(WORK)
display(Markdown(show.table(["reading", "value"], list(resized.items()))))

# %% [markdown]
# Without antialiasing OpenCV samples a few source pixels per target pixel and the noise survives
# (a larger standard deviation); Pillow averages each pixel's footprint. Same chapter, two
# different inputs: compare losses across the chapter's tabs and they differ before any framework
# has done anything.
#
# ## 2. Preprocessing
#
# ImageNet's mean and standard deviation, channels first, a batch of one. `mxnet.np` is NumPy's
# API (`transpose`, `reshape`, broadcasting); PyTorch spells two of them `permute` and `view`.

# %%
display(HTML(show.side_by_side(mxl.preprocess, ptl.preprocess)))
photo, painting = mxl.read(CONTENT, SIZE), mxl.read(STYLE, SIZE)
x_mx, x_pt = mxl.preprocess(photo), ptl.preprocess(photo)
print(f"MXNet {type(x_mx).__module__}.{type(x_mx).__name__} {x_mx.shape}, PyTorch {type(x_pt).__name__} "
      f"{tuple(x_pt.shape)}; largest difference {onp.abs(x_mx.asnumpy() - x_pt.numpy()).max():.3g}")

# %% [markdown]
# ## 3. The network and its features
#
# Both frameworks ship VGG-19 with the same 37 layers in `features`, so an index means the same
# layer in both. Gluon builds layers without their input sizes and fixes the shapes at the first
# forward pass (deferred initialisation); PyTorch needs every size when a layer is built. Under
# `npx.set_np()` an unknown size is -1 (NumPy allows 0-sized axes); the legacy `nd` API wrote 0.

# %%
display(HTML(show.side_by_side(mxl.network, ptl.network)))
display(Markdown(show.table(["weight shape of Conv2D(64, 3x3) built without input channels", "shape"],
                            list(traps.deferred_shapes().items()))))

# %% [markdown]
# Taking features: both loops run `features` layer by layer and keep the outputs at the chosen
# indices. torchvision's VGG uses `ReLU(inplace=True)`: a kept output is overwritten by the next
# layer unless it is copied. Gluon's `Activation('relu')` returns a new array. The trap, as the
# chapter's PyTorch loop would meet it with a conv layer kept:

# %%
display(HTML(show.side_by_side(mxl.extract, ptl.extract)))
display(Markdown(show.table(["kept conv1_1 output, torchvision VGG-19", "value"], list(traps.inplace_relu().items()))))

# %%
from common.tools.io.weights import save_npz  # noqa: E402
from common.weights import random_weights  # noqa: E402

NPZ = save_npz(random_weights(0), WORK / "vgg19.npz")  # seeded VGG-19 weights: the same in both
LAST = max(mxl.STYLE_LAYERS + mxl.CONTENT_LAYERS)
net_mx, net_pt = mxl.network(str(NPZ), LAST), ptl.network(str(NPZ), LAST)
layers = mxl.CONTENT_LAYERS + mxl.STYLE_LAYERS
import torch  # noqa: E402
from mxnet import autograd  # noqa: E402

with autograd.train_mode():
    ys_mx = mxl.extract(net_mx, x_mx, layers)
with torch.no_grad():
    ys_pt = ptl.extract(net_pt, x_pt, layers)
display(Markdown(show.table(["layer", "shape", "relative difference, MXNet vs PyTorch"],
                            [(i, tuple(a.shape), relative(a.asnumpy(), b.numpy())) for i, a, b in zip(layers, ys_mx, ys_pt)])))
assert all(relative(a.asnumpy(), b.numpy()) < 1e-4 for a, b in zip(ys_mx, ys_pt))

# %% [markdown]
# The two frameworks agree to float32 rounding at every layer; the project's backends, which run the
# same convolutions in NCHW, agree bit for bit (`tests/backends/test_parity.py`).
#
# ## 4. The Gram matrix
#
# `np.dot(x, x.T)` against `x @ x.T`; `x.size` against `x.numel()`.

# %%
display(HTML(show.side_by_side(mxl.gram, ptl.gram)))
display(Markdown(show.table(["layer", "Gram, relative difference"],
                            [(i, relative(mxl.gram(a).asnumpy(), ptl.gram(b).numpy()))
                             for i, a, b in zip(layers[1:], ys_mx[1:], ys_pt[1:])])))

# %% [markdown]
# One difference hides in `x.T`. PyTorch's is a view of `x`; MXNet's NumPy interface makes a new
# array (its `reshape` too), so the chapter's `np.dot(x, x.T)` copies every feature map, and under
# `autograd.record` its gradient too. The project's MXNet backend writes the Gram matrix with the
# legacy `nd.dot(f, f, transpose_b=True)` on `f = x.as_nd_ndarray().reshape((c, -1))` (views,
# which autograd records through): the same matrix to rounding, read in place; on the whole run
# the copies had cost about 30 % more memory per pixel (`docs/differences.md`).

# %%
display(Markdown(show.table(["x.T", "measured"], list(traps.transpose_copies().items()))))

# %% [markdown]
# ## 5. The losses
#
# The same three terms, weighted 1, 1e4 and 10 (the chapter writes `style_weight = 1e3` and then
# multiplies a Python list by 10, which repeats it ten times: 1e4 in effect).

# %%
display(HTML(show.side_by_side(mxl.losses, ptl.losses)))
y_mx = mxl.preprocess(painting)
y_pt = ptl.preprocess(painting)
with autograd.train_mode():
    targets_mx = (mxl.extract(net_mx, x_mx, mxl.CONTENT_LAYERS), [mxl.gram(y) for y in mxl.extract(net_mx, y_mx, mxl.STYLE_LAYERS)])
with torch.no_grad():
    targets_pt = (ptl.extract(net_pt, x_pt, ptl.CONTENT_LAYERS), [ptl.gram(y) for y in ptl.extract(net_pt, y_pt, ptl.STYLE_LAYERS)])
noisy = onp.clip(photo + onp.random.default_rng(0).normal(0, 0.1, photo.shape).astype(onp.float32), 0, 1)
with autograd.train_mode():
    total_mx = float(mxl.losses(net_mx, mxl.preprocess(noisy), *targets_mx))
with torch.no_grad():
    total_pt = float(ptl.losses(net_pt, ptl.preprocess(noisy), *targets_pt))
print(f"total loss of the noisy photo: MXNet {total_mx:.6g}, PyTorch {total_pt:.6g}, "
      f"relative difference {abs(total_mx - total_pt) / total_pt:.2g}")
assert abs(total_mx - total_pt) < 1e-4 * total_pt

# %% [markdown]
# ## 6. Recording and gradients
#
# MXNet records only inside `autograd.record()` and only for arrays that `attach_grad()` (or a
# Parameter) marked; `backward()` then *writes* their gradient. PyTorch records whatever touches a
# tensor with `requires_grad`, always, and `backward()` *adds* into `.grad`, so a loop must clear
# it every step:

# %%
display(Markdown(show.table(["gradient of sum(2x) after two backward passes", "value"],
                            list(traps.gradients_twice().items()))))

# %% [markdown]
# The gradient of the whole loss with respect to the picture, in both:

# %%
g_mx = mxl.preprocess(noisy)
g_mx.attach_grad()
with autograd.record():
    mxl.losses(net_mx, g_mx, *targets_mx).backward()
g_pt = ptl.preprocess(noisy).requires_grad_(True)
ptl.losses(net_pt, g_pt, *targets_pt).backward()
print(f"gradient with respect to the picture: relative difference {relative(g_mx.grad.asnumpy(), g_pt.grad.numpy()):.2g}")
assert relative(g_mx.grad.asnumpy(), g_pt.grad.numpy()) < 1e-3

# %% [markdown]
# `autograd.record()` runs in training mode, and it must: MXNet 1.9.1 with oneDNN sends max-pool
# gradients to the wrong pixels when recording with `train_mode=False` (the chapter's mode for a
# frozen network). The largest error of the pooled gradient against NumPy's, in each mode:

# %%
display(Markdown(show.table(["recording in training mode", "largest gradient error"],
                            list(traps.maxpool_gradient().items()))))

# %% [markdown]
# ## 7. The optimizer
#
# The picture is the only parameter. MXNet wraps it in a `gluon.Parameter` and hands it to a
# `gluon.Trainer`; PyTorch makes the tensor itself a leaf with `requires_grad_` and gives it to
# `torch.optim.Adam`, with `StepLR` for the decay.

# %%
display(HTML(show.side_by_side(mxl.train, ptl.train)))

# %% [markdown]
# **Adam's epsilon.** Gluon's Adam folds both bias corrections into the step size and adds epsilon
# to the uncorrected `sqrt(v)`; PyTorch adds it to the corrected one. With this problem's gradients
# (1e-9 to 1e-3 per pixel) that is not rounding. The project can rescale MXNet's epsilon every step
# (`AdamSettings.align_epsilon`) to make the two identical. Twenty gradients of this problem's size:

# %%
adams = {"Gluon": traps.gluon_adam(), "Gluon, epsilon aligned": traps.gluon_adam(align=True)}
torch_w = traps.torch_adam()
display(Markdown(show.table(["Adam", "relative difference from torch.optim.Adam"],
                            [(k, relative(v, torch_w)) for k, v in adams.items()])))

# %% [markdown]
# **`Trainer.step(n)`** divides the gradient by the batch size `n` before the update. Adam does not
# care about a gradient's scale, except through epsilon, so `step(100)` acts like a 100 times larger
# epsilon: harmless for large gradients, a much smaller step for tiny ones. The loops pass 1. First
# updates of a zero weight, learning rate 0.1:

# %%
display(Markdown(show.table(["batch size, gradient", "first update"],
                            [(f"{n}, {g:g}", u) for (n, g), u in traps.trainer_step_scale().items()])))

# %% [markdown]
# **Learning-rate schedules.** `StepLR.step()` belongs after `optimizer.step()`; before it, every
# decay comes one update early. Gluon has no scheduler object in the loop here: the MXNet loop sets
# the rate from the step index, which cannot be misplaced. The rate of each of seven updates
# (`step_size=3`, `gamma=0.5`):

# %%
display(Markdown(show.table(["StepLR stepped", "rates"], [("before the update", traps.decay_rates(True)),
                                                         ("after the update", traps.decay_rates(False))])))

# %% [markdown]
# ## 8. The whole loop
#
# Both loops, the same seeded VGG-19, the same photo and painting, the chapter's recipe:

# %%
image_mx, totals_mx = mxl.train(net_mx, x_mx, y_mx, LOOP_STEPS)
image_pt, totals_pt = ptl.train(net_pt, x_pt, y_pt, LOOP_STEPS)
display(Markdown(show.table(["step", "MXNet", "PyTorch", "relative difference"],
                            [(s, a, b, abs(a - b) / b) for s, (a, b) in enumerate(zip(totals_mx, totals_pt))])))
assert abs(totals_mx[0] - totals_pt[0]) < 1e-4 * totals_pt[0]

# %% [markdown]
# The first steps agree to float32 rounding. They then part slowly, because the two Adams differ
# (section 7); the project's MXNet backend with `align_epsilon` follows PyTorch's.
#
# ## 9. Asynchronous execution and timing
#
# MXNet's operators return before they have run: the engine queues them and only a read
# (`wait_to_read()`, `asnumpy()`, `float()`) waits. A timer around MXNet code without a read
# measures the queueing. PyTorch on the CPU runs each operator before it returns (on a GPU, CUDA is
# asynchronous too, and `torch.cuda.synchronize()` is the read). Eight chained 800x800 products:

# %%
timings = {"MXNet": traps.mxnet_timing(), "PyTorch": traps.torch_timing()}
display(Markdown(show.table(["seconds until", *timings], [(k, *(t[k] for t in timings.values())) for k in ("returned", "done")])))

# %% [markdown]
# ## 10. Threads
#
# `npx.set_np()`, `autograd.record()` and `torch.no_grad()` all hold for the thread that set them:
# a new thread starts without them. The project's backends switch MXNet's NumPy semantics on in
# each thread that calls them; PyTorch's Ray workers and `compare.py` never see it.

# %%
display(Markdown(show.table(["state", "value"], list(traps.mxnet_thread_state().items())
                            + list(traps.torch_thread_state().items()))))

# %% [markdown]
# ## 11. Saving and loading
#
# Gluon names parameters twice: `collect_params()` keys carry a prefix from a process-wide counter
# (the second copy of the same network gets other names), while `save_parameters` writes structural
# names (`0.weight`) that any copy loads. PyTorch's `state_dict` has only structural names.

# %%
display(Markdown(show.table(["what", "names / result"], list(traps.parameter_names(WORK).items()))))

# %% [markdown]
# ## 12. HybridBlock and torch.compile
#
# Gluon's `HybridBlock.hybridize()` turns the imperative network into one symbolic graph at the
# first call (with `static_alloc`, its memory is planned once); PyTorch runs eagerly, and
# `torch.compile` is its graph compiler (minutes of compiling on a CPU, so it is not timed here:
# `docs/speed.md` has the measured numbers). The project's backends, one loss-and-gradient
# evaluation at this lesson's size, without and with their speed-ups (MXNet: hybridized; PyTorch:
# channels-last memory where it pays, weights frozen in both):

# %%
import time  # noqa: E402

from common.config import LossWeights, TransferConfig  # noqa: E402

from common.execution import Execution
from common.registry import load_backend  # noqa: E402
from common.targets import compute_targets  # noqa: E402


def seconds_per_evaluation(name: str, execution: Execution, repeats: int = 3) -> float:
    backend = load_backend(name)(random_weights(0), last_layer=LAST, device="cpu", execution=execution)
    config = TransferConfig(size=SIZE)
    start, targets = compute_targets(backend, photo, [painting], config)
    backend.use_targets(targets, LossWeights())
    backend.evaluate(start)  # the first call builds the graph
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        backend.evaluate(start)
        times.append(time.perf_counter() - began)
    return float(onp.median(times))


display(Markdown(show.table(["backend", "as the chapter runs it (s)", "optimized (s)"],
                            [(name, seconds_per_evaluation(name, Execution.unoptimized()),
                              seconds_per_evaluation(name, Execution())) for name in ("mxnet", "torch")])))

# %% [markdown]
# ## 13. GPUs
#
# MXNet calls a device a context (`mx.cpu()`, `mx.gpu(0)`, the `ctx=` argument); PyTorch a device
# (`torch.device("cuda", 0)`, `.to(device)`). Here:

# %%
display(Markdown(show.table(["framework", "devices"], list(traps.devices().items()))))

# %% [markdown]
# ## 14. The chapter's exercises, answered with a trained network
#
# The network: a trained VGG-16 (`WEIGHTS`), run through the project's interface in each backend.
# Every picture is a run of `transfer` with L-BFGS for a fixed number of evaluations from the photo.
# Under each grid, each picture's content, style and total-variation losses measured under the
# *default* objective (the default layers, unweighted), so that pictures made with different
# objectives can be compared on the same terms.

# %%
from common.tools.io.weights import load_weights  # noqa: E402
from exercises import EXERCISES, Painter, sheet  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

trained = load_weights(WEIGHTS) if WEIGHTS else load_weights("random", network="vgg16")
print(f"{trained.network.title}, {trained.convention.name} input convention, "
      f"{'trained' if WEIGHTS else 'RANDOM weights: the pictures below mean nothing'}")
painters = {name: Painter(name, trained, SIZE, STEPS) for name in ("mxnet", "torch")}
photo_full, painting_full = (onp.asarray(PILImage.open(p).convert("RGB")) for p in (CONTENT, STYLE))
answers = {}


def answer(exercise: str) -> None:
    rows = [(name, [painter.paint(v, photo_full, painting_full) for v in EXERCISES[exercise]])
            for name, painter in painters.items()]
    answers[exercise] = rows
    display(Picture(data=show.jpeg(sheet(rows)), format="jpeg"))
    display(Markdown(show.table(["backend", "picture", "content", "style", "TV", "its own loss", "seconds"],
                                [(name, p.variant.caption, p.terms.content, p.terms.style, p.terms.tv, p.own, p.seconds)
                                 for name, pictures in rows for p in pictures])))


# %% [markdown]
# ### Exercise 1: other style layers

# %%
answer("style layers")

# %% [markdown]
# Shallow layers (relu1_1, relu2_1) see a few pixels at a time: the picture takes the painting's
# colours and fine grain but none of its strokes, and the mountain stays sharp. Deep layers
# (relu4_1, relu5_1) see large patches: strokes and shapes come through, colours much less, and
# the picture is the furthest from the default style loss measured at all five layers. The default
# five layers take both.
#
# ### Exercise 1: another content layer

# %%
answer("content layer")

# %% [markdown]
# A shallow content layer (relu2_2) keeps the photo's edges pixel by pixel and leaves the painting
# little room; a deep one (relu5_2) keeps only what the network recognises, and the painting's
# texture covers the rest. relu4_2, the default, is between.
#
# ### Exercise 2: other loss weights

# %%
answer("loss weights")
ran = {name: {p.variant.caption: p.terms for p in pictures} for name, pictures in answers["loss weights"]}
for name, terms in ran.items():  # what the reading below says, checked on the pictures above
    assert terms["content x 10"].content < terms["default weights"].content, name
    assert terms["style x 10"].style < terms["default weights"].style, name
    assert terms["TV x 10"].tv < terms["TV 0"].tv, name

# %% [markdown]
# More content weight keeps the photo (a lower content loss, a higher style loss); more style weight
# the other way round. The total-variation weight trades noise for blur: with none the painting's
# grain and the optimiser's high-frequency noise stay; ten times the default flattens the picture
# into patches. The assertions above check the three directions on the pictures just made, in both
# frameworks.
#
# ### Exercise 3: other images

# %%
answer("other images")

# %% [markdown]
# The rings are a painting made by `lesson/exercises.py` (no licence to carry): the photo takes
# their colours and curves. With the roles swapped, the painting keeps its composition and takes
# the photo's cooler, smoother texture.
#
# ### The two frameworks
#
# The same runs in both backends, side by side: how far apart are the pictures?

# %%
gaps = [(exercise, mx.variant.caption, float(onp.abs(mx.image - pt.image).max()), abs(mx.own - pt.own) / pt.own)
        for exercise, rows in answers.items() for mx, pt in zip(rows[0][1], rows[1][1])]
display(Markdown(show.table(["exercise", "picture", "largest pixel difference (0-1)", "loss, relative difference"], gaps)))
