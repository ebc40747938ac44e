"""The comparison report: both backends built once, every stage, the training runs, the
pictures, the time per stage and the environment, laid out as report blocks (``render.py``
writes them). ``scripts/compare.py`` parses the options and calls :func:`write_report`."""
from __future__ import annotations

import argparse
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from common.config import TransferConfig

from common.execution import Execution
from common.errors import UserError
from common.interface import StyleBackend
from common.registry import framework_tools, load_backend
from common.weights import Weights

from ..cli import preflight
from ..cli.memory import check_fits
from ..io.downloads import sample_image
from ..io.pictures import check_writable, load_rgb, save_image
from ..io.weights import load_weights
from . import plots, render, stages, tabs
from .measure import largest_pixel_difference, machine, psnr, relative_gap

LEFT, RIGHT = "mxnet", "torch"  # PyTorch's Adam is the reference convention: differences are MXNet - PyTorch
# Numbers are compared with both frameworks in NCHW, imperative form: PyTorch's default channels_last
# layout picks other convolution kernels, whose last-bit differences move max-pool gradients (the
# report measures by how much). Timing uses each backend's default, fast configuration.
PARITY = Execution(optimized=False)
TITLE = "MXNet vs PyTorch: neural style transfer compared"
WHAT = {False: "The project's computation, the same in both", True: "The chapter's two tabs as written"}


class Backends:
    """Backend instances by (name, weights), made on first use; each weights spec read once."""

    def __init__(self, args: argparse.Namespace, last_layer: int) -> None:
        self.args, self.last_layer, self._made, self._weights = args, last_layer, {}, {}
        self.classes = {name: load_backend(name) for name in (LEFT, RIGHT)}

    def weights(self, spec: Optional[str] = None) -> Weights:
        spec = spec or self.args.weights
        if spec not in self._weights:
            self._weights[spec] = load_weights(spec, self.args.network, self.args.seed, self.args.weights_convention)
        return self._weights[spec]

    def get(self, name: str, weights: Optional[str] = None, execution: Execution = PARITY) -> StyleBackend:
        spec = weights or self.args.weights
        key = (name, spec, execution)
        if key not in self._made:
            self._made[key] = self.classes[name](self.weights(spec), last_layer=self.last_layer,
                                                 device=self.args.device, execution=execution)
        return self._made[key]


def write_report(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Path]:
    """Measure everything ``args`` asks for and write the report; returns the files written."""
    # The options, files, configuration (built once, here) and folder, before any download.
    folder, config, described = preflight.check_compare(args)
    paths = {"content": Path(args.content or sample_image("content")),
             "style": Path(args.style[0] if args.style else sample_image("style"))}  # the chapter's runs: one style
    content = load_rgb(paths["content"])
    style = [load_rgb(path) for path in args.style] if args.style else [load_rgb(paths["style"])]
    backends = Backends(args, 0)
    if described:  # a file, read by the check: not read again
        backends._weights[args.weights] = described
    weights = backends.weights()
    backends.last_layer = max(config.last_layer, *tabs.MXNET_TAB.style_layers, *tabs.MXNET_TAB.content_layers) \
        if args.tabs else config.last_layer
    _check_memory(backends, args, config, content, style)
    left, right = backends.get(LEFT), backends.get(RIGHT)
    if args.tabs:
        _check_d2l_weights(backends, args)
    check_writable(folder / "report.md")  # after every other check: a refused run leaves no empty folder

    say(f"{left.framework} on {left.device} vs {right.framework} on {right.device}: every stage")
    rows = stages.stage_rows(left, right, content, style, config, args.seed)
    layout_rows = stages.layout_rows(right, backends.get(RIGHT, execution=Execution()), content, style, config, args.seed)
    say(f"timing {args.timing_steps} synchronised steps per backend")
    fast = [backends.get(name, execution=Execution()) for name in (LEFT, RIGHT)]
    times = {b.name: stages.stage_times(b, content, style, config, args.timing_steps) for b in fast}

    blocks: list[render.Block] = []
    numbers: dict = {"settings": {**vars(args), "config": asdict(config)}}
    blocks.append(render.Para(
        f"{WHAT[args.tabs]}, {config.describe()}, weights `{args.weights}` ({weights.convention.name} input "
        f"convention), seed {args.seed}. "
        f"{left.framework} on {left.device}; {right.framework} on {right.device}. "
        f"Differences are {LEFT} minus {RIGHT}; relative ones are max |difference| / max |{RIGHT} value|."
        + (" The stage table uses these layers; the chapter runs below use each tab's own (see the ablation)."
           if args.tabs else "")))
    _stage_section(blocks, numbers, rows, left, right, layout_rows)

    if not args.tabs:
        runs = stages.trajectories(left, right, content, style, config, say)
        _trajectory_section(blocks, numbers, folder, runs, config)
        _pictures(blocks, numbers, folder, {m: (r[LEFT].image, r[RIGHT].image) for m, r in runs.items()}, "native")
    else:
        chapter, ablation = _d2l(backends, paths, config, args, say)
        _trajectory_section(blocks, numbers, folder, {"d2l": chapter}, config)
        _pictures(blocks, numbers, folder, {"d2l": (chapter[LEFT].image, chapter[RIGHT].image)}, "d2l")
        _ablation_section(blocks, numbers, ablation)
    _timing_section(blocks, numbers, times, config)
    _environment_section(blocks, numbers, left, right, args)
    return render.write(folder, blocks, numbers, TITLE)


def _stage_section(blocks, numbers, rows, left, right, layout_rows) -> None:
    blocks.append(render.Heading("Stage by stage, identical inputs"))
    blocks.append(render.Para(
        "Both backends get the same arrays at every stage: the content image (features), the style image "
        f"(Gram matrices), and the content image plus N(0, {stages.NOISE}) noise (losses, gradient, one Adam "
        "step from there with lr as configured)."))
    blocks.append(render.Table(["stage", "max abs difference", "max relative difference",
                                f"{left.name} call", f"{right.name} call"],
                               [[r.stage, r.max_abs, r.max_rel, f"`{r.calls[left.name]}`", f"`{r.calls[right.name]}`"]
                                for r in rows]))
    numbers["stages"] = [asdict(r) for r in rows]
    blocks.append(render.Para(
        f"Both frameworks run in NCHW layout above. {right.name}'s default (what `run.py` uses) is channels_last, "
        "whose convolution kernels round differently in the last bit; where two values in a max-pool window are "
        "nearly equal that flips which one gets the gradient. The same framework against itself:"))
    blocks.append(render.Table(["stage", "max abs difference", "max relative difference", "compared"],
                               [[r.stage, r.max_abs, r.max_rel, f"`{r.calls['a']}` vs `{r.calls['b']}`"]
                                for r in layout_rows]))
    numbers["layout_stages"] = [asdict(r) for r in layout_rows]


def _trajectory_section(blocks, numbers, folder: Path, runs, config: TransferConfig) -> None:
    blocks.append(render.Heading("Training trajectories"))
    plots.plot_trajectories(runs, folder / "trajectories.png", RIGHT)
    blocks.append(render.Picture("trajectories.png", "total loss per step, and the relative gap between the backends"))
    table = []
    for mode, by_backend in runs.items():
        ref = by_backend[RIGHT].totals
        other = by_backend[LEFT].totals
        gap = relative_gap(other, ref)
        marks = sorted({m for m in (1, 2, 10, len(gap)) if m <= len(gap)})  # --steps 1 has one step only
        table.append([mode, by_backend[LEFT].first.get("total", float("nan")), by_backend[RIGHT].first.get("total", float("nan")),
                      by_backend[LEFT].last.get("total", float("nan")), by_backend[RIGHT].last.get("total", float("nan")),
                      ", ".join(f"step {m}: {render.fmt(float(gap[m - 1]))}" for m in marks), float(gap.max())])
    blocks.append(render.Table(["run", f"{LEFT} step 1", f"{RIGHT} step 1", f"{LEFT} step {config.total_steps}",
                                f"{RIGHT} step {config.total_steps}", "relative gap", "max gap"], table))
    if "aligned" in runs:
        blocks.append(render.Para(
            "`native`: each framework's own Adam. `aligned`: MXNet's epsilon set to eps·sqrt(1−β2^t) before update t, "
            "which is PyTorch's convention (PyTorch's run is the same in both rows)."))
    numbers["trajectories"] = {mode: {name: run.summary() for name, run in r.items()} for mode, r in runs.items()}


def _pictures(blocks, numbers, folder: Path, images: dict, shown: str) -> None:
    blocks.append(render.Heading("Pictures"))
    a, b = images[shown]
    save_image(a, folder / f"{LEFT}.png")
    save_image(b, folder / f"{RIGHT}.png")
    plots.plot_difference(a, b, folder / "difference.png", f"|{LEFT} - {RIGHT}| ({shown})")
    blocks += [render.Picture(f"{LEFT}.png", f"{LEFT} ({shown})"), render.Picture(f"{RIGHT}.png", f"{RIGHT} ({shown})"),
               render.Picture("difference.png", "absolute difference")]
    values = {mode: psnr(x, y) for mode, (x, y) in images.items()}
    blocks.append(render.Table(["run", "PSNR between the two outputs (dB)", "largest pixel difference (of 1)"],
                               [[m, values[m], largest_pixel_difference(x, y)] for m, (x, y) in images.items()]))
    numbers["psnr_db"] = values


def _check_memory(backends: Backends, args, config: TransferConfig, content: np.ndarray, style: list) -> None:
    """What run.py checks before any work, for each backend: it can run here, and a run of this
    size fits in the memory that is free (both are built, and each runs the same sizes)."""
    for cls in backends.classes.values():
        preflight.check_capabilities(args, cls)
        check_fits(cls, config, content, style, device=args.device, max_memory=args.max_memory, size_spec=args.size)


def _check_d2l_weights(backends: Backends, args) -> None:
    """Each chapter tab's own pretrained weights, fetched before any work: without them the
    chapter's two versions cannot be compared as written."""
    if args.weights != "imagenet":
        return
    for name, tab in (("torch", tabs.TORCH_TAB), ("mxnet", tabs.MXNET_TAB)):
        try:
            backends.get(name, tab.weights)
        except UserError as exc:
            raise UserError(f"--tabs runs each chapter tab with its own pretrained weights, and the {name} "
                            f"tab's cannot be had: {exc}") from None


def _d2l(backends: Backends, paths: dict, config: TransferConfig, args, say: Callable[[str], None]):
    # With the default ImageNet weights each tab gets its own pretrained network (Gluon zoo vs
    # torchvision); with any other --weights both tabs use it, and that difference is absent.
    pretrained = args.weights == "imagenet"

    def make(name: str, tab: tabs.Tab):
        spec = tab.weights if pretrained else None
        try:
            return backends.get(name, spec)
        except UserError as exc:
            say(f"skipping {tab.weights} weights: {exc}")
            return None

    cache: dict = {}

    def read(tab: tabs.Tab):
        if tab.reader not in cache:
            cache[tab.reader] = tuple(tab.read(paths[k], config.size) for k in ("content", "style"))
        return cache[tab.reader]

    mx_tab, pt_tab = tabs.MXNET_TAB, tabs.TORCH_TAB
    if not pretrained:
        mx_tab, pt_tab = replace(mx_tab, weights=args.weights), replace(pt_tab, weights=args.weights)
    return stages.ablation(make, read, mx_tab, pt_tab, config, say)


def _ablation_section(blocks, numbers, rows) -> None:
    blocks.append(render.Heading("Why the chapter's two versions give different pictures"))
    blocks.append(render.Para(
        "Each row reruns the chapter's MXNet version with one of its differences from the PyTorch version removed "
        "(taken from the PyTorch version; epsilon removed = MXNet's Adam aligned to PyTorch's), against the PyTorch "
        f"version as written. The MXNet tab: {tabs.MXNET_TAB.description}. "
        f"The PyTorch tab: {tabs.TORCH_TAB.description}."))
    table = []
    for r in rows:
        s1, fin = r.step1, r.final
        table.append([r.removed,
                      s1.get(LEFT, {}).get("total", float("nan")), s1.get(RIGHT, {}).get("total", float("nan")),
                      fin.get(LEFT, {}).get("total", float("nan")), fin.get(RIGHT, {}).get("total", float("nan")),
                      fin.get(LEFT, {}).get("style", float("nan")), fin.get(RIGHT, {}).get("style", float("nan")),
                      r.psnr, r.note])
    blocks.append(render.Table(["difference removed", f"{LEFT} step-1 total", f"{RIGHT} step-1 total",
                                f"{LEFT} final total", f"{RIGHT} final total", f"{LEFT} final style",
                                f"{RIGHT} final style", "PSNR of outputs (dB)", "note"], table))
    numbers["ablation"] = [asdict(r) for r in rows]


def _timing_section(blocks, numbers, times, config: TransferConfig) -> None:
    blocks.append(render.Heading("Time per stage"))
    blocks.append(render.Para(
        f"Median seconds over synchronised steps at {config.size[0]}x{config.size[1]} after one warm-up step; "
        "every clock read waits for the work first (`npx.waitall()` for MXNet's asynchronous engine, "
        "`torch.cuda.synchronize()` on a GPU)."))
    blocks.append(render.Table(["backend", "forward (features + losses)", "backward", "Adam update", "whole step"],
                               [[n, t["forward"], t["backward"], t["update"], t["step"]] for n, t in times.items()]))
    numbers["seconds_per_stage"] = times


def _environment_section(blocks, numbers, left, right, args) -> None:
    blocks.append(render.Heading("Environment"))
    tools = {b.name: framework_tools(b.name) for b in (left, right)}
    env = {"machine": machine(), left.name: tools[left.name].environment(left),
           right.name: tools[right.name].environment(right)}
    env["seeds"] = {"--seed (random weights, loss-point noise)": str(args.seed),
                    "GPU": f"{left.name}: {tools[left.name].gpu_status().detail}; "
                           f"{right.name}: {tools[right.name].gpu_status().detail}"}
    for section, values in env.items():
        blocks.append(render.Table([section, "value"], [[k, f"`{v}`"] for k, v in values.items()]))
    numbers["environment"] = env
