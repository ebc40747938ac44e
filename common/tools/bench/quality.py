"""``bench.py quality``, time to quality: how long each method takes to make a
picture as good as the chapter's.

Quality is the loss of the picture as saved — clipped to [0, 1] — at the final size, evaluated by
an extra forward and backward pass whose time is left out. The chapter's recipe (Adam, one size)
runs first and sets the bar: its picture's loss L and its wall time T. Each method then runs
until its picture's loss is at most L, timed from its start (targets and resizing included, the
checks left out), and is stopped at ``cap`` x T if it never gets there. Two objectives: the
chapter's weights, and the same with the TV weight at 0 — with random weights the chapter's
objective ends dominated by TV, which a smooth upsampled image satisfies for free, so the second
keeps the race about style and content.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from common.config import Scales, TransferConfig

from common.execution import Execution
from common.defaults import defaults_for
from common.errors import UserError
from common.interface import StyleBackend
from common.records import StepRecord
from common.registry import framework_tools, load_backend
from common.run import Run
from common.targets import compute_targets, prepare_inputs
from common.transfer import transfer

from ..cli.options import recipe_fields
from ..io.downloads import sample_image
from ..io.pictures import load_rgb
from ..io.weights import load_weights
from .processes import in_processes

CHECK_EVERY = 5  # steps between picture-loss checks at the final size: about 1 % of T at 500 steps


@dataclass(frozen=True)
class Method:
    name: str
    change: Callable[[TransferConfig], TransferConfig]
    execution: Execution = Execution()


def fast_recipe(config: TransferConfig) -> TransferConfig:
    """``config`` as ``run.py --recipe fast`` changes it: the recipe's options, through the one
    mapping from options to fields."""
    return config.with_fields(recipe_fields("fast"))


def methods() -> list[Method]:
    """The methods raced against the chapter's recipe (each also ends at the reference's step count)."""
    return [
        Method("Adam, coarse to fine (2 sizes)", lambda c: replace(c, scales=replace(c.scales, count=2))),
        Method("Adam kept inside [0, 1]", lambda c: replace(c, bounded=True)),
        Method("L-BFGS", lambda c: replace(c, optimizer="lbfgs")),
        Method("L-BFGS, coarse to fine (2 sizes)",
               lambda c: replace(c, optimizer="lbfgs", scales=replace(c.scales, count=2, steps=30))),
        Method("Adam, bf16", lambda c: c, Execution(precision="bf16")),
        Method("--recipe fast (Adam in [0, 1], 2 sizes)", fast_recipe),
    ]


def scale_variants() -> list[Method]:
    """``--recipe fast`` with one coarse-to-fine choice changed at a time: how its defaults were picked."""
    def vary(label: str, bounded: bool = True, lr_factor: float = 1.0, **change) -> Method:
        def apply(config: TransferConfig) -> TransferConfig:  # learning rates relative to the convention's
            fast = fast_recipe(config)
            return replace(fast, bounded=bounded, scales=replace(fast.scales, lr=fast.scales.lr * lr_factor, **change))
        return Method(label, apply)
    return [
        vary("--recipe fast as it is (factor 2, 50 steps, the scale lr, reset, bicubic)"),
        vary("moments resized instead of reset", moments="resize"),
        vary("scale lr x 0.4", lr_factor=0.4),
        vary("scale lr x 2", lr_factor=2.0),
        vary("scale lr x 6 (the chapter's lr)", lr_factor=6.0),
        vary("25 steps per smaller size", steps=25),
        vary("100 steps per smaller size", steps=100),
        vary("3 sizes, factor 2", count=3),
        vary("3 sizes, factor sqrt(2)", count=3, factor=2 ** 0.5),
        vary("bilinear upsampling", upsample="bilinear"),
        vary("unbounded Adam, moments reset", bounded=False),
        vary("unbounded Adam, moments resized", bounded=False, moments="resize"),
    ]


SETS = {"methods": methods, "scales": scale_variants}


class _Reached(Exception):
    pass


@dataclass
class Race:
    method: str
    reached: bool
    seconds: float  # to reach L, or spent until the cap
    steps: int
    best_ratio: float  # best checked picture loss / L
    speedup: float  # T / seconds when reached


def race(backend: StyleBackend, checker: StyleBackend, content: np.ndarray, style: np.ndarray,
         config: TransferConfig, bar: float, limit: float, label: str) -> Race:
    """Run ``config`` on ``backend`` until its picture's loss, as ``checker`` (fp32) computes it, is
    at most ``bar``, or until ``limit`` seconds have passed."""
    last_scale = config.scales.count
    checks = {"seconds": 0.0, "best": np.inf, "ready": checker is backend}

    def check(image: np.ndarray) -> float:
        if not checks["ready"]:  # a separate checker needs the final size's targets, once
            checker.use_targets(compute_targets(checker, *prepare_inputs(content, style, config.size, config),
                                                config)[1], config.loss_weights)
            checks["ready"] = True
        loss = checker.evaluate(checker.preprocess(image))[0].total
        checks["best"] = min(checks["best"], loss)
        return loss

    class Racing(Run):  # the race's clock and checks ride on the run's steps
        def on_step(self, record: StepRecord, current: Callable[[], np.ndarray]) -> None:
            spent = record.elapsed - checks["seconds"]
            if record.size_index == last_scale and (record.step % CHECK_EVERY == 0 or spent >= limit):
                start = time.perf_counter()
                loss = check(current())
                checks["seconds"] += time.perf_counter() - start
                if loss <= bar:
                    raise _Reached(spent, record.step)
            if spent >= limit:
                raise _Reached(-spent, record.step)

    try:
        result = transfer(backend, content, style, config, Racing())
        seconds = result.records[-1].elapsed - checks["seconds"]
        reached, steps = check(result.picture) <= bar, len(result.records)
    except _Reached as stop:
        (seconds, steps), reached = stop.args, stop.args[0] >= 0
    return Race(label, reached, abs(seconds), steps, checks["best"] / bar, 0.0)


def run(make: Callable[[Execution], Optional[StyleBackend]], content: np.ndarray, style: np.ndarray,
        size: tuple[int, int], steps: int, cap: float, say: Callable[[str], None], which: str = "methods",
        network: str = "vgg19", convention: str = "torchvision") -> dict:
    """Both objectives on one backend: the chapter's reference, then every method against it. The
    loss weights are the convention's defaults (the chapter's for torchvision's)."""
    out: dict = {}
    defaults = defaults_for(convention)
    for objective, weights in (("default weights", defaults.loss_weights), ("TV weight 0", replace(defaults.loss_weights, tv=0.0))):
        base = TransferConfig(size=size, network=network, loss_weights=weights, scales=Scales(lr=defaults.scale_lr),
                              schedule=replace(TransferConfig().schedule, steps=steps, lr=defaults.lr))
        checker = make(Execution())
        say(f"{objective}: the chapter's recipe, {steps} Adam steps at {size[0]}x{size[1]}")
        reference = transfer(checker, content, style, base)
        bar = reference.picture_loss.total
        total = reference.records[-1].elapsed
        rows = []
        for method in SETS[which]():
            backend = make(method.execution)
            if backend is None:
                continue
            say(f"{objective}: {method.name}")
            result = race(backend, checker, content, style, method.change(base), bar, cap * total, method.name)
            result.speedup = total / result.seconds if result.reached else 0.0
            rows.append(result.__dict__)
        out[objective] = {"L": bar, "T": total, "last_logged": reference.records[-1].total, "methods": rows}
    return out


def worker(name: str, size: tuple[int, int], args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    """Time to quality on one backend: each method against the chapter's recipe, two objectives."""
    content = load_rgb(args.content or sample_image("content"))
    style = load_rgb(args.style or sample_image("style"))
    weights = load_weights(args.weights, args.network, 0, args.weights_convention)
    last_layer = TransferConfig(network=weights.network.name).last_layer
    built: dict[Execution, StyleBackend] = {}

    def make(execution: Execution) -> StyleBackend | None:
        if execution not in built:
            try:
                built[execution] = load_backend(name)(weights, last_layer=last_layer, device=args.device,
                                                      execution=execution)
            except UserError as exc:
                warn(f"skipping {name} {execution.precision}: {exc}")
                return None
        return built[execution]

    races = run(make, content, style, size, args.steps, args.cap, warn, args.set, weights.network.name,
                weights.convention.name)
    checker = make(Execution())
    return {"backend": name, "framework": checker.framework, "device": checker.device, "size": list(size),
            "threads": framework_tools(name).environment(checker)["threads"], "cap": args.cap, "set": args.set,
            "weights": args.weights, "network": weights.network.name, "convention": weights.convention.name,
            "objectives": races}


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        for objective, o in r["objectives"].items():
            lines.append(f"{r['backend']} at {r['size'][0]}x{r['size'][1]}, {objective}: the chapter's recipe ends at "
                         f"picture loss L = {o['L']:.4g} (last logged {o['last_logged']:.4g}) after T = {o['T']:.1f} s")
            lines.append(f"  {'method':44} {'reached L':>9} {'seconds':>8} {'steps':>6} {'T / seconds':>11} {'best / L':>8}")
            for m in o["methods"]:
                speedup = f"{m['speedup']:.2f}x" if m["reached"] else "-"
                lines.append(f"  {m['method']:44} {'yes' if m['reached'] else 'no':>9} {m['seconds']:8.1f} {m['steps']:6d} "
                             f"{speedup:>11} "
                             f"{m['best_ratio']:8.3f}")
    weights = {r.get("weights", "random") for r in results}
    if weights == {"random"}:
        lines.append("Seeded random weights (--weights random): the numbers rank methods, not pictures.")
    return "\n".join(lines)


def run_all(args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    """Every (backend, size) in a process of its own; returns every number."""
    results, skipped = in_processes("quality", args, warn)
    return {"results": results, "skipped": skipped}
