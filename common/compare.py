"""MXNet against PyTorch on identical inputs: every stage, the training trajectories, the
pictures, the time per stage, and (for ``--recipe d2l``) the ablation of the chapter's two
versions. Everything here is measured; ``common/report.py`` only renders it."""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from .config import TransferConfig
from .interface import StyleBackend
from .layers import layer_name
from .recipes import D2L_DIFFERENCES, Recipe, without
from .transfer import TransferResult, compute_targets, transfer

NOISE = 0.1  # losses and gradients are compared at the content image plus N(0, NOISE) noise


@dataclass
class StageRow:
    stage: str
    max_abs: float
    max_rel: float  # max |a - b| / max |b|, b = the reference (second) backend
    calls: dict[str, str]  # backend name -> framework call


@dataclass
class Run:
    """One backend's training run, as the report needs it."""
    backend: str
    label: str
    totals: list[float]
    first: dict[str, float]
    last: dict[str, float]
    seconds_per_step: float
    image: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, backend: StyleBackend, label: str, result: TransferResult) -> "Run":
        return cls(backend.name, label, [r.total for r in result.records],
                   _terms(result.records[0]) if result.records else {},
                   _terms(result.records[-1]) if result.records else {},
                   result.seconds_per_step, result.image)

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("image")
        return data


@dataclass
class AblationRow:
    removed: str
    step1: dict[str, dict[str, float]]  # backend -> terms at step 1
    final: dict[str, dict[str, float]]
    psnr: float
    note: str = ""


def _terms(record) -> dict[str, float]:
    return {k: getattr(record, k) for k in ("content", "style", "tv", "total")}


def difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    diff = float(np.abs(a - b).max()) if a.size else 0.0
    scale = float(np.abs(b).max()) if b.size else 0.0
    return diff, (diff / scale if scale > 0 else diff)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two [0, 1] images (inf when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def stage_rows(left: StyleBackend, right: StyleBackend, content: np.ndarray, style: np.ndarray,
               config: TransferConfig, seed: int = 0) -> list[StageRow]:
    """Each stage on both backends from the same arrays; ``right`` is the reference."""
    rows: list[StageRow] = []

    def add(stage: str, key: str, a, b) -> None:
        rows.append(StageRow(stage, *difference(a, b), {left.name: left.calls[key], right.name: right.calls[key]}))

    xl, xr = left.preprocess(content), right.preprocess(content)
    add("preprocess (content image)", "preprocess", xl, xr)
    for index, a, b in zip(config.layers, left.extract_features(xr, config.layers),
                           right.extract_features(xr, config.layers)):
        add(f"features {layer_name(index)} ({index})", "features", a, b)
    sr = right.preprocess(style)
    for index, a, b in zip(config.style_layers, left.extract_features(sr, config.style_layers),
                           right.extract_features(sr, config.style_layers)):
        add(f"Gram matrix {layer_name(index)} ({index})", "gram", left.gram(a), right.gram(b))

    _, targets_l = compute_targets(left, content, style, config)
    _, targets_r = compute_targets(right, content, style, config)
    x = xr + np.random.default_rng(seed).normal(0, NOISE, xr.shape).astype(np.float32)
    terms_l, grad_l = left.loss_and_gradient(x, targets_l, config.weights)
    terms_r, grad_r = right.loss_and_gradient(x, targets_r, config.weights)
    for name in ("content", "style", "tv", "total"):
        add(f"{name} loss (weighted)", name, getattr(terms_l, name), getattr(terms_r, name))
    add("gradient d total / d image", "backward", grad_l, grad_r)
    for align in (False, True):
        moves = []
        for backend, targets in ((left, targets_l), (right, targets_r)):
            backend.start(x, targets, config.weights, replace(config.adam, align_epsilon=align), config.schedule.lr)
            backend.step()
            moves.append(backend.image() - x)
        add(f"one Adam step, {'aligned' if align else 'native'} epsilon (update of the image)", "adam", *moves)
    return rows


def layout_rows(plain: StyleBackend, fast: StyleBackend, content: np.ndarray, style: np.ndarray,
                config: TransferConfig, seed: int = 0) -> list[StageRow]:
    """One framework in two executions (e.g. NCHW vs channels_last): deepest features and gradient."""
    x0 = plain.preprocess(content)
    deepest = config.last_layer
    a, b = fast.extract_features(x0, [deepest])[0], plain.extract_features(x0, [deepest])[0]
    _, targets = compute_targets(plain, content, style, config)
    x = x0 + np.random.default_rng(seed).normal(0, NOISE, x0.shape).astype(np.float32)
    grad_fast = fast.loss_and_gradient(x, targets, config.weights)[1]
    grad_plain = plain.loss_and_gradient(x, targets, config.weights)[1]
    calls = {"a": "default (optimized)", "b": "NCHW, imperative"}
    return [StageRow(f"{plain.name} features {layer_name(deepest)} ({deepest})", *difference(a, b), calls),
            StageRow(f"{plain.name} gradient d total / d image", *difference(grad_fast, grad_plain), calls)]


def stage_times(backend: StyleBackend, content: np.ndarray, style: np.ndarray, config: TransferConfig,
                steps: int = 5) -> dict[str, float]:
    """Median seconds per stage over ``steps`` synchronised steps after one warm-up step."""
    init, targets = compute_targets(backend, content, style, config)
    backend.start(init, targets, config.weights, config.adam, config.schedule.lr)
    backend.timed_step()
    samples = [backend.timed_step()[1] for _ in range(max(1, steps))]
    times = {stage: float(np.median([s[stage] for s in samples])) for stage in samples[0]}
    times["step"] = float(np.median([sum(s.values()) for s in samples]))
    return times


def trajectories(left: StyleBackend, right: StyleBackend, content: np.ndarray, style: np.ndarray,
                 config: TransferConfig, say: Callable[[str], None] = lambda _: None) -> dict[str, dict[str, Run]]:
    """Both backends trained with native and with aligned epsilon. A backend whose Adam already
    uses the reference convention is the same either way: one run serves both."""
    runs: dict[str, dict[str, Run]] = {"native": {}, "aligned": {}}
    for backend in (left, right):
        for mode in ("native", "aligned"):
            if mode == "aligned" and backend.adam_epsilon == "corrected":
                runs[mode][backend.name] = runs["native"][backend.name]
                continue
            say(f"training {backend.framework}, {mode} Adam epsilon, {config.schedule.steps} steps")
            cfg = replace(config, adam=replace(config.adam, align_epsilon=mode == "aligned"))
            runs[mode][backend.name] = Run.of(backend, mode, transfer(backend, content, style, cfg))
    return runs


def recipe_config(base: TransferConfig, recipe: Recipe) -> TransferConfig:
    return replace(base, content_layers=recipe.content_layers, style_layers=recipe.style_layers,
                   schedule=replace(base.schedule, lr=recipe.lr),
                   adam=replace(base.adam, align_epsilon=recipe.align_epsilon)).validate()


def ablation(make: Callable[[str, Recipe], Optional[StyleBackend]], read: Callable[[Recipe], tuple[np.ndarray, np.ndarray]],
             mxnet: Recipe, torch: Recipe, base: TransferConfig,
             say: Callable[[str], None] = lambda _: None) -> tuple[dict[str, Run], list[AblationRow]]:
    """The chapter's two versions, then the MXNet one with one difference at a time taken from
    the PyTorch one, then with all of them: step-1 losses, final losses, PSNR between outputs.

    ``make(name, recipe)`` returns a backend with the recipe's weights (None if they cannot be
    had), ``read(recipe)`` the content and style images resized the recipe's way."""
    torch_backend = make("torch", torch)
    say(f"training the chapter's PyTorch version, {base.schedule.steps} steps")
    reference = Run.of(torch_backend, "d2l", transfer(torch_backend, *read(torch), recipe_config(base, torch)))
    chapter: dict[str, Run] = {"torch": reference}
    rows: list[AblationRow] = []
    cases = [("nothing (the chapter as written)", ())] + list(D2L_DIFFERENCES.items())
    cases.append(("all five", tuple(f for fields in D2L_DIFFERENCES.values() for f in fields)))
    for label, fields in cases:
        recipe = without(mxnet, torch, fields)
        if fields and recipe == mxnet:  # e.g. both already use --weights random: nothing to remove
            rows.append(AblationRow(label, {}, {}, float("nan"), "no difference in this run (same setting in both)"))
            continue
        note = ""
        backend = make("mxnet", recipe)
        if backend is None:
            rows.append(AblationRow(label, {}, {}, float("nan"), f"weights {recipe.weights!r} unavailable"))
            continue
        say(f"training the chapter's MXNet version with {label} removed, {base.schedule.steps} steps")
        run = Run.of(backend, label, transfer(backend, *read(recipe), recipe_config(base, recipe)))
        if not fields:
            chapter["mxnet"] = run
        rows.append(AblationRow(label, {"mxnet": run.first, "torch": reference.first},
                                {"mxnet": run.last, "torch": reference.last}, psnr(run.image, reference.image), note))
    return chapter, rows


def machine() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"python": sys.version.split()[0], "numpy": np.__version__, "platform": platform.platform(),
            "cpu": f"{cpu}, {cores} cores available"}
