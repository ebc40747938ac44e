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
# `lesson/loop_torch.py` (the whole algorithm, about 100 lines each, differing only where the
# frameworks do), their source side by side with the differing lines shaded, what each framework
# computes, and where a port from one to the other goes wrong. It ends with the chapter's
# exercises answered with pictures made in both frameworks, two port-this exercises and questions
# to answer before running a cell.
#
# Every number and every sentence that reads a result is computed when the notebook runs.
# `python lesson/run.py` makes this notebook (`--weights imagenet`, the chapter's VGG-19, by
# default; `--weights FILE` for any weights file the project reads). Each trap calls the same
# function in `lesson/traps.py` that `tests/backends/test_framework_traps.py` asserts on.
#
# The photo and the painting are the chapter's (`rainier.jpg`, `autumn-oak.jpg`, d2l-ai/d2l-en,
# CC BY-SA 4.0); the pictures made from them here are derived works under the same licence, credit:
# *Dive into Deep Learning* (Zhang, Lipton, Li and Smola).
#
# **In a hosted notebook** (SageMaker Studio Lab, where the chapter opens, or Colab), run the next
# cell first: it fetches the project and installs it. MXNet 1.9.1, the last release, needs Python
# 3.9-3.11 and NumPy < 1.24 (it fails to import with 1.24, apache/mxnet#21165): on Studio Lab make a
# conda environment with `python=3.11` first; where the Python is 3.12 or newer (Colab's today),
# only the PyTorch half installs and the MXNet cells stop with one line that says so.

# %%
import os
import subprocess
import sys
from pathlib import Path

HOSTED = "google.colab" in sys.modules or Path("/home/studio-lab-user").is_dir()
if HOSTED and not Path("common").is_dir():  # a hosted kernel starts in an empty folder
    if not os.environ.get("LESSON_REPOSITORY"):
        raise SystemExit("lesson: set LESSON_REPOSITORY to this project's git URL (os.environ[...] = URL), then rerun")
    subprocess.run(["git", "clone", "--depth", "1", os.environ["LESSON_REPOSITORY"], "twin"], check=True)
    os.chdir("twin")
    pins = '.[torch,mxnet,lesson]' if sys.version_info < (3, 12) else '.[torch,lesson]'
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", pins, "numpy<1.24" if sys.version_info < (3, 12) else "numpy"], check=True)
print("hosted: installed" if HOSTED else f"not hosted: nothing to install (Python {sys.version.split()[0]})")

# %%
import tempfile

import numpy as onp
from IPython.display import HTML, Image as Picture, Markdown, display

ROOT = Path.cwd() if (Path.cwd() / "common").is_dir() else Path.cwd().parent  # the repository
sys.path[:0] = [str(ROOT), str(ROOT / "lesson")]

from common.errors import UserError  # noqa: E402

SIZE = tuple(int(v) for v in os.environ.get("LESSON_SIZE", "200x300").split("x"))  # (height, width)
STEPS = int(os.environ.get("LESSON_STEPS", "30"))  # L-BFGS evaluations per exercise picture
LOOP_STEPS = int(os.environ.get("LESSON_LOOP_STEPS", "30"))  # Adam steps of the two plain loops
WEIGHTS = os.environ.get("LESSON_WEIGHTS") or "imagenet"  # the chapter's network unless told otherwise
WORK = Path(tempfile.mkdtemp(prefix="lesson-"))


def stop(message: str):
    """One line and no traceback: what is missing and what to pass."""
    raise SystemExit(f"lesson: {message}")


try:
    import loop_mxnet as mxl  # the MXNet loop: mxnet.np, Gluon, autograd.record, Trainer
    import loop_torch as ptl  # the PyTorch loop: torch, torchvision, autograd, optim
except ImportError as exc:
    stop(f"{exc}: install both frameworks, pip install -e '.[torch,mxnet,lesson]' (MXNet needs Python <= 3.11)")
import show  # noqa: E402
import traps  # noqa: E402


def relative(a, b) -> float:
    """max |a - b| / max |b|: one scale for the whole array."""
    a, b = onp.asarray(a, dtype=onp.float64), onp.asarray(b, dtype=onp.float64)
    return float(onp.abs(a - b).max() / max(onp.abs(b).max(), 1e-30))


def images() -> tuple[Path, Path]:
    """The chapter's photo and painting: LESSON_CONTENT and LESSON_STYLE, else downloaded."""
    if os.environ.get("LESSON_CONTENT") and os.environ.get("LESSON_STYLE"):
        return Path(os.environ["LESSON_CONTENT"]), Path(os.environ["LESSON_STYLE"])
    from common.tools.io.downloads import sample_image

    try:
        return sample_image("content"), sample_image("style")
    except UserError as exc:
        stop(f"{exc} (python lesson/run.py --content PHOTO --style PAINTING)")


CONTENT, STYLE = images()
CHAPTER_IMAGES = (CONTENT.name, STYLE.name) == ("rainier.jpg", "autumn-oak.jpg")
CREDIT = ("Made from the chapter's photo and painting (rainier.jpg, autumn-oak.jpg, d2l-ai/d2l-en), CC BY-SA 4.0: "
          "a derived work under the same licence. Credit: *Dive into Deep Learning* (Zhang, Lipton, Li and Smola)."
          if CHAPTER_IMAGES else f"Made from {CONTENT.name} and {STYLE.name}.")

from common.tools.io.weights import load_weights, save_npz  # noqa: E402
from common.weights import random_weights  # noqa: E402

try:
    trained = load_weights(WEIGHTS)
except UserError as exc:
    stop(f"{exc}; pass a weights file (python lesson/run.py --weights FILE) or, for a smoke run, --weights random")
RANDOM = WEIGHTS == "random"
BANNER = "RANDOM WEIGHTS: the picture means nothing" if RANDOM else ""
# The loops are written for the chapter's network, VGG-19 taking ImageNet-standardised RGB.
CHAPTER_NET = trained.network.name == "vgg19" and trained.convention.name == "torchvision"
LOOP_WEIGHTS = trained if CHAPTER_NET else random_weights(0)
LOOP_RANDOM = RANDOM or not CHAPTER_NET
LOOP_BANNER = "RANDOM VGG-19: the picture means nothing" if LOOP_RANDOM else ""
NPZ = save_npz(LOOP_WEIGHTS, WORK / "vgg19.npz")
source = "the chapter's ImageNet VGG-19 (torchvision's IMAGENET1K_V1)" if WEIGHTS == "imagenet" else \
    ("seeded random weights, asked for by name" if RANDOM else f"the weights file {Path(WEIGHTS).name}")
display(Markdown(
    f"**Settings.** {SIZE[0]}x{SIZE[1]} pixels; {LOOP_STEPS} Adam steps of the plain loops, {STEPS} L-BFGS "
    f"evaluations per exercise picture; the photo `{CONTENT.name}`, the painting `{STYLE.name}`. **Network:** "
    f"{source}: {trained.network.title}, {trained.convention.name} input convention. Sections 2-8 and the loops use "
    + ("it." if CHAPTER_NET else
       "a seeded random VGG-19 instead, with a banner on its pictures: the loops are written for the chapter's "
       "VGG-19 in torchvision's convention, and these weights are another network or convention (the exercises, "
       "made through the project's interface, use them).")))

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

# %% [markdown]
# ## 2. Preprocessing
#
# ImageNet's mean and standard deviation, channels first, a batch of one, on a device. Both
# frameworks take the same host array (`np.array(..., ctx=device)` against
# `torch.tensor(..., device=device)`: MXNet 1.9.1 calls a device a context); `reshape` and `@` are
# spelled alike in both. One name differs: `mxnet.np`'s `transpose(2, 0, 1)` reorders all axes as
# NumPy's does, while torch's `transpose` swaps two, so PyTorch writes `permute`.

# %%
display(HTML(show.side_by_side(mxl.preprocess, ptl.preprocess)))
photo, painting = mxl.read(CONTENT, SIZE), mxl.read(STYLE, SIZE)
x_mx, x_pt = mxl.preprocess(photo), ptl.preprocess(photo)
print(f"MXNet {type(x_mx).__module__}.{type(x_mx).__name__} {x_mx.shape}, PyTorch {type(x_pt).__name__} "
      f"{tuple(x_pt.shape)}; largest difference {onp.abs(x_mx.asnumpy() - x_pt.numpy()).max():.3g}")

# %% [markdown]
# ## 3. The network and its features
#
# **Predict** before running the next cell: how many children does Gluon's
# `vision.vgg19().features` hold, and torchvision's?
# <details><summary>Answer</summary>41 and 37. Gluon's <code>features</code> ends with the
# classifier's Dense and Dropout layers, twice; the 37 convolution, ReLU and pooling layers
# come first in both and in the same order, so an index below 37 means the same layer in both.
# </details>

# %%
display(Markdown(show.table(["zoo", "children"], list(traps.feature_counts().items()))))

# %% [markdown]
# Gluon builds a layer without its input size and fixes the shapes at the first forward pass
# (deferred initialisation); under `npx.set_np()` an unknown size is -1 (the legacy `nd` API wrote
# 0). PyTorch's usual layers take every size when built, but `torch.nn.LazyConv2d` defers it the
# same way (its weight is an `UninitializedParameter` until the first call):

# %%
display(HTML(show.side_by_side(mxl.network, ptl.network)))
display(Markdown(show.table(["a 3x3 convolution to 64 channels, input channels not given", "weight"],
                            list(traps.deferred_shapes().items()) + list(traps.lazy_shapes().items()))))

# %% [markdown]
# **Taking features.** Both loops run `features` layer by layer and keep the outputs at the chosen
# indices, every one a ReLU's output (relu1_1 ... relu5_1 for style, relu4_4 for content), so a
# kept tensor is never overwritten and neither loop copies it. The chapter asks for conv outputs,
# indices `[0, 5, 10, 19, 28]` (style) and `[25]` (content). Gluon's `Activation('relu')` returns
# a new array, so its MXNet tab gets them. torchvision's VGG uses `ReLU(inplace=True)`: the next
# layer overwrites a kept conv output with its ReLU, so the chapter's PyTorch tab, as written,
# reads ReLU outputs at every index but 28, the last layer run.
#
# **Predict:** which of the chapter's six indices does its PyTorch tab really read as conv outputs?
# <details><summary>Answer</summary>Only 28 (conv5_1): nothing runs after it. 0, 5, 10, 19 and 25
# are overwritten by the ReLU that follows each.</details>

# %%
display(HTML(show.side_by_side(mxl.extract, ptl.extract)))
display(Markdown(show.table(["the chapter's index", "what its PyTorch tab stores (torchvision VGG-19, as written)"],
                            list(traps.chapter_torch_tab_reads().items()))))
display(Markdown(show.table(["kept conv1_1 output, torchvision VGG-19", "value"], list(traps.inplace_relu().items()))))

# %% [markdown]
# So the chapter's two tabs compute different things from the start: other features, and other
# learning rates too (0.9 in its MXNet tab, 0.3 in its PyTorch tab). The project's
# `common/tools/compare/tabs.py` holds the two tabs as written, and `python scripts/compare.py
# --tabs` runs both, removing one difference at a time (it needs the tabs' own pretrained weights):

# %%
from common.tools.compare import tabs  # noqa: E402

display(Markdown(show.table(["the chapter's tab", "style indices", "content", "learning rate", "as written"],
                            [(name, tab.style_layers, tab.content_layers, tab.lr, tab.description)
                             for name, tab in (("MXNet", tabs.MXNET_TAB), ("PyTorch", tabs.TORCH_TAB))])))

# %% [markdown]
# The loops' features on the same weights, computed without recording (`autograd.pause`, MXNet's
# counterpart of `torch.no_grad()`):

# %%
from mxnet import autograd  # noqa: E402
import torch  # noqa: E402

LAST = max(mxl.STYLE_LAYERS + mxl.CONTENT_LAYERS)
net_mx, net_pt = mxl.network(str(NPZ), LAST), ptl.network(str(NPZ), LAST)
layers = mxl.CONTENT_LAYERS + mxl.STYLE_LAYERS
with autograd.pause(train_mode=True):
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
# Spelled alike in both: `x @ x.T` on `x = y.reshape(c, -1)`. One difference hides in it.
#
# **Predict:** after `v = x.T; v[0, 1] = 1`, has `x[1, 0]` changed, in MXNet? In PyTorch?
# <details><summary>Answer</summary>Only in PyTorch, whose <code>.T</code> is a view.
# <code>mxnet.np</code> makes a new array for <code>.T</code> and for <code>reshape</code> (its
# <code>transpose</code> documentation says so).</details>

# %%
display(HTML(show.side_by_side(mxl.gram, ptl.gram)))
display(Markdown(show.table(["layer", "Gram, relative difference"],
                            [(i, relative(mxl.gram(a).asnumpy(), ptl.gram(b).numpy()))
                             for i, a, b in zip(layers[1:], ys_mx[1:], ys_pt[1:])])))
display(Markdown(show.table(["x.T", "measured"], list(traps.transpose_copies().items()))))

# %% [markdown]
# So the chapter's `np.dot(x, x.T)` copies every feature map, and under `autograd.record` its
# gradient too. `mxnet.np` has what avoids it without leaving the NumPy interface:
# `x.reshape_view(c, -1)` (a documented view) and `npx.batch_dot(x[None], x[None], transpose_b=True)`,
# which multiplies by the transpose without making it. (The project's MXNet backend does the same
# with the legacy `nd.dot(..., transpose_b=True)`; the copies had cost about 30 % more memory per
# pixel, `docs/differences.md`.)

# %%
display(Markdown(show.table(["mxnet.np without the copy", "measured"], list(traps.np_views().items()))))

# %% [markdown]
# ## 5. The losses
#
# The same three terms, weighted 1, 1e4 and 10 (the chapter writes `style_weight = 1e3` and then
# multiplies a Python list by 10, which repeats it ten times: 1e4 in effect). The chapter's PyTorch
# losses call `Y.detach()` on each target, because its targets were computed with gradients on;
# the loops compute them under `torch.no_grad()` / `autograd.pause()`, so a target carries no graph
# and there is nothing to detach.

# %%
display(HTML(show.side_by_side(mxl.losses, ptl.losses)))
y_mx = mxl.preprocess(painting)
y_pt = ptl.preprocess(painting)
with autograd.pause(train_mode=True):
    targets_mx = (mxl.extract(net_mx, x_mx, mxl.CONTENT_LAYERS), [mxl.gram(y) for y in mxl.extract(net_mx, y_mx, mxl.STYLE_LAYERS)])
with torch.no_grad():
    targets_pt = (ptl.extract(net_pt, x_pt, ptl.CONTENT_LAYERS), [ptl.gram(y) for y in ptl.extract(net_pt, y_pt, ptl.STYLE_LAYERS)])
print(f"a PyTorch target needs no detach(): requires_grad {targets_pt[0][0].requires_grad}, graph {targets_pt[0][0].grad_fn}")
noisy = onp.clip(photo + onp.random.default_rng(0).normal(0, 0.1, photo.shape).astype(onp.float32), 0, 1)
with autograd.pause(train_mode=True):
    total_mx = mxl.losses(net_mx, mxl.preprocess(noisy), *targets_mx).item()
with torch.no_grad():
    total_pt = ptl.losses(net_pt, ptl.preprocess(noisy), *targets_pt).item()
print(f"total loss of the noisy photo: MXNet {total_mx:.6g}, PyTorch {total_pt:.6g}, "
      f"relative difference {abs(total_mx - total_pt) / total_pt:.2g}")
assert abs(total_mx - total_pt) < 1e-4 * total_pt

# %% [markdown]
# ## 6. Recording and gradients
#
# MXNet records only inside `autograd.record()` and only for arrays that `attach_grad()` (or a
# Parameter) marked; `backward()` then *writes* their gradient. PyTorch records whatever touches a
# tensor with `requires_grad`, always, and `backward()` *adds* into `.grad`, so a loop must clear
# it every step.
#
# **Predict:** `sum(2x)` differentiated twice without clearing: what is each framework's gradient?
# <details><summary>Answer</summary>PyTorch 4 (2 + 2, added); MXNet 2 (overwritten, grad_req
# 'write').</details>

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
# **Training mode.** `autograd.record()` defaults to `train_mode=True` (`mxnet/autograd.py`), and
# the chapter's MXNet loop uses that default; its docstring calls a `backward()` in another mode
# than the recording's undefined, so the two go together. `record(train_mode=False)` with a
# matching `backward(train_mode=False)` is defined, and with MXNet 1.9.1's oneDNN it sends max-pool
# gradients to the wrong pixels. The largest error of the pooled gradient against NumPy's:
#
# **Predict:** in which mode is the error not zero?
# <details><summary>Answer</summary>In inference mode (False): about 4, wrong pixels, not rounding.
# So the loops record in training mode and take their targets under <code>pause(train_mode=True)</code>,
# the mode every recorded step runs in (<code>train_mode</code> is the counterpart of torch's
# <code>module.train()</code>, not of <code>no_grad</code>).</details>

# %%
display(Markdown(show.table(["recording and backward in training mode", "largest gradient error"],
                            list(traps.maxpool_gradient().items()))))

# %% [markdown]
# **An error comes later in MXNet.** Its engine runs an operator after the call has returned, so
# an operator's error is raised at the next read of its result, not at the line that launched it
# (MXNet's "Exception Handling" tutorial); PyTorch raises at the line. A normal distribution with
# a negative scale, in each:

# %%
display(Markdown(show.table(["where", "what happened"], list(traps.late_errors().items()))))

# %% [markdown]
# ## 7. The optimizer
#
# The picture is the only parameter. MXNet wraps it in a named `gluon.Parameter`, initialises it on
# a device and sets it (a copy), and hands it to a `gluon.Trainer`; PyTorch wraps the tensor in
# `torch.nn.Parameter` (which shares its memory: the loop clones the content first) and gives it to
# `torch.optim.Adam`. The chapter wraps it in a class, `SynthesizedImage`, a Gluon `Block` in its
# MXNet tab and an `nn.Module` in its PyTorch tab (exercise A below ports one to the other).

# %%
display(HTML(show.side_by_side(mxl.train, ptl.train)))

# %% [markdown]
# **Adam's epsilon.** Gluon's Adam folds both bias corrections into the step size and adds epsilon
# to the uncorrected `sqrt(v)` (`mxnet/optimizer/adam.py`); PyTorch adds it to the corrected one
# (`torch/optim/adam.py`). With this problem's gradients (1e-9 to 1e-3 per pixel) that is not
# rounding. The project can rescale MXNet's epsilon every step (`AdamSettings.align_epsilon`) to
# make the two identical. Twenty gradients of this problem's size:

# %%
adams = {"Gluon": traps.gluon_adam(), "Gluon, epsilon aligned": traps.gluon_adam(align=True)}
torch_w = traps.torch_adam()
display(Markdown(show.table(["Adam", "relative difference from torch.optim.Adam"],
                            [(k, relative(v, torch_w)) for k, v in adams.items()])))

# %% [markdown]
# **`Trainer.step(n)`** divides the gradient by the batch size `n` before the update
# (`mxnet/gluon/trainer.py`). Adam does not care about a gradient's scale, except through epsilon,
# so `step(100)` acts like a 100 times larger epsilon: harmless for large gradients, a much smaller
# step for tiny ones. The loops pass 1. First updates of a zero weight, learning rate 0.1:
#
# **Predict:** gradient 1e-7, `step(100)`: a smaller, equal or larger first update than `step(1)`?
# <details><summary>Answer</summary>Much smaller: the rescaled gradient, 1e-9, is below epsilon
# (1e-8), which then dominates the denominator.</details>

# %%
display(Markdown(show.table(["batch size, gradient", "first update"],
                            [(f"{n}, {g:g}", u) for (n, g), u in traps.trainer_step_scale().items()])))

# %% [markdown]
# **Learning-rate schedules.** Gluon's counterpart of `StepLR` is `lr_scheduler.FactorScheduler`,
# handed to the `Trainer`, which calls it with each update's 1-based count; the loops decay x0.8
# every 50 updates with them. `StepLR.step()` belongs after `optimizer.step()`; before it, every
# decay comes one update early. The rate of each of seven updates (every 3, x0.5):

# %%
rates = traps.schedulers()
display(Markdown(show.table(["schedule", "rates"],
                            [*rates.items(), ("torch StepLR stepped before the update", traps.decay_rates(True))])))
assert rates["Gluon FactorScheduler"] == rates["torch StepLR"]

# %% [markdown]
# ## 8. The whole loop
#
# Both loops, the same weights, the same photo and painting, the project's recipe:

# %%
image_mx, totals_mx = mxl.train(net_mx, x_mx, y_mx, LOOP_STEPS)
image_pt, totals_pt = ptl.train(net_pt, x_pt, y_pt, LOOP_STEPS)
shown_steps = sorted({0, 1, 2, LOOP_STEPS // 2, LOOP_STEPS - 1})
display(Markdown(show.table(["step", "MXNet", "PyTorch", "relative difference"],
                            [(s, totals_mx[s], totals_pt[s], abs(totals_mx[s] - totals_pt[s]) / totals_pt[s]) for s in shown_steps])))
assert abs(totals_mx[0] - totals_pt[0]) < 1e-4 * totals_pt[0]
loop_pictures = [("the photo", photo), ("MXNet loop", mxl.postprocess(image_mx)), ("PyTorch loop", ptl.postprocess(image_pt))]
tile = show.row(loop_pictures)
display(Picture(data=show.jpeg(show.banner(tile, LOOP_BANNER) if LOOP_BANNER else tile), format="jpeg"))
gap = float(onp.abs(loop_pictures[1][1] - loop_pictures[2][1]).max())
first_apart = next((s for s in range(LOOP_STEPS) if abs(totals_mx[s] - totals_pt[s]) > 1e-4 * totals_pt[s]), None)
display(Markdown(
    f"{CREDIT} After {LOOP_STEPS} steps the loss fell from {totals_pt[0]:.4g} to {totals_pt[-1]:.4g} (PyTorch) and "
    f"to {totals_mx[-1]:.4g} (MXNet); the two pictures differ by at most {gap:.3f} per pixel (0-1). "
    + (f"The losses agree to 1e-4 until step {first_apart}, then part: the two Adams differ (section 7)."
       if first_apart is not None else "The losses agree to 1e-4 at every step.")
    + (" The weights are random: the picture shows only what the loops compute." if LOOP_RANDOM else "")))

# %% [markdown]
# ## 9. Asynchronous execution and timing
#
# MXNet's operators return before they have run: the engine queues them and only a read
# (`wait_to_read()`, `asnumpy()`, `item()`) waits. A timer around MXNet code without a read
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
from common.execution import Execution  # noqa: E402
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
# MXNet 1.9.1 calls a device a context (`npx.gpu(0)`, `npx.cpu()`, the `ctx=` argument); PyTorch a
# device (`torch.device("cuda", 0)`, `.to(device)`, `device=`). Both loops take one. Where a GPU is
# there, the next cell runs both loops on it for a few steps and compares the losses with the CPU's
# above; here it says what it finds. What to expect: PyTorch on CUDA agrees with the CPU to about
# 1e-3, not to rounding, because cuDNN's convolutions use TF32 on Ampere and later GPUs by default
# (`torch.backends.cudnn.allow_tf32`). MXNet 1.9.1's GPU wheels (`mxnet-cu101` ... `mxnet-cu117`,
# CUDA and cuDNN installed separately) are built for compute capabilities 5.0-8.6 without PTX: the
# project measured that they cannot run kernels on Hopper (H100, H200), so there the MXNet loop
# stays on the CPU. The GPU's asynchrony is MXNet's too: `torch.cuda.synchronize()` plays
# `wait_to_read()`'s part before a clock is read.

# %%
import mxnet as mx  # noqa: E402

from common.errors import one_line  # noqa: E402

display(Markdown(show.table(["framework", "devices"], list(traps.devices().items()))))
GPU_STEPS = min(5, LOOP_STEPS)


def on_gpu(plain, device) -> tuple[str, str]:
    """The loop's first GPU_STEPS losses on ``device``, against the CPU run above."""
    started = time.perf_counter()
    net = plain.network(str(NPZ), LAST, device)
    _, totals = plain.train(net, plain.preprocess(photo, device), plain.preprocess(painting, device), GPU_STEPS)
    cpu = (totals_mx if plain is mxl else totals_pt)[:GPU_STEPS]
    return (f"{GPU_STEPS} steps in {time.perf_counter() - started:.2f} s",
            f"{max(abs(a - b) / b for a, b in zip(totals, cpu)):.2g}")


gpu_rows = []
if torch.cuda.is_available():
    gpu_rows.append(("PyTorch", torch.cuda.get_device_name(0), *on_gpu(ptl, torch.device("cuda", 0))))
else:
    gpu_rows.append(("PyTorch", "no CUDA GPU here", "not run", "-"))
if mx.context.num_gpus():
    try:
        gpu_rows.append(("MXNet", f"GPU 0 of {mx.context.num_gpus()}", *on_gpu(mxl, mx.gpu(0))))
    except Exception as exc:  # Hopper, a missing CUDA library: one line
        gpu_rows.append(("MXNet", "GPU 0", f"failed: {one_line(exc)[:160]}", "-"))
else:
    gpu_rows.append(("MXNet", "no GPU (none here, or MXNet's CPU build)", "not run", "-"))
display(Markdown(show.table(["loop", "device", "ran", "largest relative difference from its CPU losses"], gpu_rows)))

# %% [markdown]
# ## 14. The chapter's exercises, answered with pictures
#
# The network is the lesson's (see the settings at the top), run through the project's interface
# in each backend. Every picture is a run of `transfer` with L-BFGS for a fixed number of
# evaluations from the photo. Under each grid, each picture's content, style and total-variation
# losses measured under the *default* objective (the default layers, unweighted), so that pictures
# made with different objectives can be compared on the same terms, and what the pictures show,
# read from those numbers as the notebook runs.

# %%
from exercises import EXERCISES, Painter, reading, sheet  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

painters = {name: Painter(name, trained, SIZE, STEPS) for name in ("mxnet", "torch")}
photo_full, painting_full = (onp.asarray(PILImage.open(p).convert("RGB")) for p in (CONTENT, STYLE))
PICTURES = Path(os.environ["LESSON_PICTURES"]) if os.environ.get("LESSON_PICTURES") else None
answers = {}


def answer(exercise: str) -> None:
    rows = [(name, [painter.paint(v, photo_full, painting_full) for v in EXERCISES[exercise]])
            for name, painter in painters.items()]
    answers[exercise] = rows
    grid = sheet(rows, banner=BANNER)
    display(Picture(data=show.jpeg(grid), format="jpeg"))
    if PICTURES:  # the copies under docs/pictures
        PICTURES.mkdir(parents=True, exist_ok=True)
        grid.save(PICTURES / f"exercise-{exercise.replace(' ', '-')}.jpg", quality=85)
    display(Markdown(show.table(["backend", "picture", "content", "style", "TV", "its own loss", "seconds"],
                                [(name, p.variant.caption, p.terms.content, p.terms.style, p.terms.tv, p.own, p.seconds)
                                 for name, pictures in rows for p in pictures])))
    display(Markdown(CREDIT + (" " + BANNER + "." if BANNER else "") + "\n\n" + "\n\n".join(
        f"**What the {name} pictures show:** {reading(exercise, pictures, photo, painting)}." for name, pictures in rows)))


# %% [markdown]
# ### Exercise 1: other style layers
#
# What to expect: shallow layers (relu1_1, relu2_1) see a few pixels at a time, so the picture
# should take the painting's colours and fine grain but not its strokes; deep layers (relu4_1,
# relu5_1) see large patches: strokes and shapes more than colours. The reading under the grid says
# whether these pictures bear it out.

# %%
answer("style layers")

# %% [markdown]
# ### Exercise 1: another content layer
#
# What to expect: a shallow content layer (relu2_2) keeps the photo's edges pixel by pixel and
# leaves the painting little room; a deep one (relu5_2) keeps only what the network recognises.

# %%
answer("content layer")

# %% [markdown]
# ### Exercise 2: other loss weights
#
# What to expect: more content weight keeps the photo (a lower content loss), more style weight
# the painting (a lower style loss); the total-variation weight trades noise for blur. The reading
# under the grid says, for each framework, whether each direction holds on the pictures it made
# (after a few L-BFGS evaluations it need not: the optimiser has not converged).

# %%
answer("loss weights")

# %% [markdown]
# ### Exercise 3: other images
#
# The rings are a painting made by `lesson/exercises.py` (no licence to carry); then the roles
# swapped, the painting as the content and the photo as the style.

# %%
answer("other images")

# %% [markdown]
# ### The two frameworks
#
# The same runs in both backends, side by side: how far apart are the pictures?

# %%
gaps = [(exercise, mx_.variant.caption, float(onp.abs(mx_.image - pt_.image).max()), abs(mx_.own - pt_.own) / pt_.own)
        for exercise, rows in answers.items() for mx_, pt_ in zip(rows[0][1], rows[1][1])]
display(Markdown(show.table(["exercise", "picture", "largest pixel difference (0-1)", "loss, relative difference"], gaps)))
worst = max(gaps, key=lambda g: g[3])
display(Markdown(f"The largest loss difference between the frameworks is {worst[3]:.2g} ({worst[0]}, {worst[1]}); "
                 f"the largest pixel difference {max(g[2] for g in gaps):.3f}."))

# %% [markdown]
# ### Exercise 4: style transfer for text
#
# The chapter's last exercise asks whether style can be transferred for text (Hu et al., 2020,
# "Text Style Transfer: A Review and Experimental Evaluation"). Not with this code as it stands:
# every part of it assumes a picture. What would have to change:
#
# - **The thing optimised.** Here it is the picture's pixels, continuous, so the gradient moves
#   them. Words are discrete: one would optimise embeddings (and then decode them to the nearest
#   words), or, as most of the works Hu et al. review do, train a generator (an encoder-decoder)
#   instead of optimising one output.
# - **The network.** VGG's features would become a pretrained language model's hidden states, per
#   token; `network()` and `extract()` would take a tokenizer and a transformer, and the layer
#   indices would be its layers.
# - **The losses.** A content loss on hidden states can stay; a Gram matrix of token features is a
#   possible style statistic, but style in text (formality, sentiment) is usually judged by a
#   trained classifier, so the style loss becomes that classifier's loss. Total variation has no
#   meaning for a sequence and goes; fluency (a language model's likelihood) takes its place.
# - **Measuring it.** Pictures are judged by eye here; text needs the measures Hu et al. survey:
#   style accuracy by a classifier, content kept (BLEU against the source), fluency (perplexity).

# %% [markdown]
# ## 15. Port it yourself
#
# ### The calls the loops use, side by side
#
# | stage | MXNet (`mxnet.np`, `npx`, Gluon) | PyTorch |
# |---|---|---|
# | NumPy semantics | `npx.set_np()` (per thread) | (one array type) |
# | an array on a device | `np.array(a, ctx=device)` | `torch.tensor(a, device=device)` |
# | a device | `npx.cpu()`, `npx.gpu(0)` | `torch.device("cpu")`, `torch.device("cuda", 0)` |
# | reorder axes | `x.transpose(2, 0, 1)` | `x.permute(2, 0, 1)` |
# | reshape, transpose of a matrix, product | `x.reshape(c, -1)`, `x.T` (copies), `x @ y` | `x.reshape(c, -1)`, `x.T` (a view), `x @ y` |
# | elementwise | `np.abs`, `np.square`, `.mean()` | `torch.abs`, `torch.square`, `.mean()` |
# | to the host | `x.asnumpy()` | `x.detach().cpu().numpy()` |
# | a Python number (waits for the value) | `x.item()` | `x.item()` |
# | VGG-19 | `gluon.model_zoo.vision.vgg19(pretrained=False).features` (41 children) | `torchvision.models.vgg19(weights=None).features` (37) |
# | allocate parameters | `block.initialize(ctx=device)`, then a first call fixes shapes | at construction (`LazyConv2d` defers) |
# | a convolution layer | `gluon.nn.Conv2D` | `torch.nn.Conv2d` |
# | set a parameter | `param.set_data(np.array(a))` | `param.copy_(torch.tensor(a))` (with `requires_grad` off) |
# | freeze | `collect_params().setattr("grad_req", "null")` | `requires_grad_(False)` |
# | no graph | `with autograd.pause():` (outside `record()` nothing is recorded anyway) | `with torch.no_grad():` |
# | training mode | `autograd.record(train_mode=True)` (the default), `pause(train_mode=True)` | `module.train()` |
# | record and differentiate | `with autograd.record(): ...`, then `y.backward()` | always recording; `y.backward()` |
# | gradients | overwritten (`grad_req="write"`) | added into `.grad`: `optimizer.zero_grad()` |
# | the picture as the parameter | `gluon.Parameter(name, shape=...)`, `initialize`, `set_data` (a copy) | `torch.nn.Parameter(t.clone())` |
# | Adam | `gluon.Trainer({name: p}, "adam", {"learning_rate": lr})` | `torch.optim.Adam([p], lr=lr)` |
# | an update | `trainer.step(batch_size)` | `optimizer.step()` |
# | decay x0.8 every 50 | `lr_scheduler.FactorScheduler(step=50, factor=0.8)` in the Trainer | `StepLR(optimizer, 50, 0.8)`, `.step()` after each update |
# | the result | `p.data()` | `p.detach()` |
#
# ### Exercise A: the chapter's `SynthesizedImage`, from Gluon to PyTorch
#
# The chapter's MXNet tab holds the picture in a Block:
#
# ```python
# class SynthesizedImage(nn.Block):
#     def __init__(self, img_shape, **kwargs):
#         super(SynthesizedImage, self).__init__(**kwargs)
#         self.weight = self.params.get('weight', shape=img_shape)
#
#     def forward(self):
#         return self.weight.data()
# ```
#
# Write its PyTorch counterpart in the next cell (a `torch.nn.Module` whose `forward()` returns the
# picture, a parameter of shape `img_shape` the optimizer can train), then run the checking cell.
# <details><summary>An answer</summary>
#
# ```python
# class SynthesizedImage(torch.nn.Module):
#     def __init__(self, img_shape):
#         super().__init__()
#         self.weight = torch.nn.Parameter(torch.rand(*img_shape))
#
#     def forward(self):
#         return self.weight
# ```
# </details>

# %%
import ports  # noqa: E402

YourSynthesizedImage = None  # your class here; None checks the folded answer (lesson/ports.py)

# %%
print(ports.check_synthesized_image(YourSynthesizedImage or ports.SynthesizedImage))

# %% [markdown]
# ### Exercise B: the chapter's `get_inits`, from PyTorch to MXNet
#
# The chapter's PyTorch tab:
#
# ```python
# def get_inits(X, lr, styles_Y):
#     gen_img = SynthesizedImage(X.shape)
#     gen_img.weight.data.copy_(X.data)
#     trainer = torch.optim.Adam(gen_img.parameters(), lr=lr)
#     styles_Y_gram = [gram(Y) for Y in styles_Y]
#     return gen_img(), styles_Y_gram, trainer
# ```
#
# Write the MXNet version: it returns the picture (an `mxnet.np` array, the Block's parameter's
# data), the style Gram matrices and a `gluon.Trainer` with Adam at `lr`.
# <details><summary>An answer</summary>
#
# ```python
# def get_inits(X, lr, styles_Y):
#     gen_img = SynthesizedImage(X.shape)          # the Gluon Block above
#     gen_img.initialize(init.Constant(X), ctx=X.ctx, force_reinit=True)
#     trainer = gluon.Trainer(gen_img.collect_params(), 'adam', {'learning_rate': lr})
#     styles_Y_gram = [gram(Y) for Y in styles_Y]
#     return gen_img(), styles_Y_gram, trainer
# ```
# The picture's gradient lives on the parameter: after <code>backward()</code>,
# <code>trainer.step(1)</code> updates it, as torch's <code>optimizer.step()</code> does.
# </details>

# %%
your_get_inits = None  # your function here; None checks the folded answer (lesson/ports.py)

# %%
print(ports.check_get_inits(your_get_inits or ports.get_inits))
