"""MXNet against PyTorch on identical inputs: every stage, the training trajectories, the
pictures, the time per stage, and (for ``--tab d2l``) the ablation of the chapter's two
versions. Everything here is measured; ``report.py`` lays it out and ``render.py`` writes it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Optional

import numpy as np

from common.config import TransferConfig
from common.interface import StyleBackend
from common.run import Run as TransferRun
from common.targets import Images, compute_targets, prepare_inputs
from common.transfer import transfer

from ..timing import time_steps
from .measure import difference, psnr
from .tabs import TAB_DIFFERENCES, Tab, without

NOISE = 0.1  # losses and gradients are compared at the content image plus N(0, NOISE) noise

# The framework call behind each stage, shown beside its measured difference.
CALLS: dict[str, dict[str, str]] = {
    "mxnet": {
        "preprocess": "(np.expand_dims(img.transpose(2, 0, 1), 0) * scale - mean) / std",
        "features": "gluon model zoo VGG .features[i](x) (Activation('relu') is not in place)",
        "gram": "nd.dot(f, f, transpose_b=True) / f.size, f = y.as_nd_ndarray().reshape((c, -1)) (np's reshape and .T copy)",
        "content": "np.square(y_hat - y).mean()",
        "style": "np.square(gram(y_hat) - gram_y).mean()",
        "tv": "np.abs(y[:, :, 1:, :] - y[:, :, :-1, :]).mean() ...",
        "total": "w_c * content + w_s * style + w_tv * tv",
        "backward": "with autograd.record(): ...; total.backward(); x.grad",
        "adam": "gluon.Trainer({x}, 'adam', {'learning_rate': lr, 'epsilon': 1e-8}).step(1)",
    },
    "torch": {
        "preprocess": "(torch.from_numpy(img).permute(2, 0, 1)[None] * scale - mean) / std",
        "features": "torchvision VGG .features[i](x), clone() before ReLU(inplace=True)",
        "gram": "x @ x.T / x.numel()",
        "content": "torch.square(y_hat - y).mean()",
        "style": "torch.square(gram(y_hat) - gram_y).mean()",
        "tv": "(y[:, :, 1:, :] - y[:, :, :-1, :]).abs().mean() ...",
        "total": "w_c * content + w_s * style + w_tv * tv",
        "backward": "total.backward(); x.grad",
        "adam": "torch.optim.Adam([x], lr, eps=1e-8).step()",
    },
}


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
    def of(cls, backend: StyleBackend, label: str, result: TransferRun) -> "Run":
        return cls(backend.name, label, [r.total for r in result.records],
                   _terms(result.records[0]) if result.records else {},
                   _terms(result.records[-1]) if result.records else {},
                   result.seconds_per_step, result.picture)

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
    note: str = ""  # why a row has no numbers


def _terms(record) -> dict[str, float]:
    return {k: getattr(record, k) for k in ("content", "style", "tv", "total")}


def stage_rows(left: StyleBackend, right: StyleBackend, content: np.ndarray, style: Images,
               config: TransferConfig, seed: int = 0) -> list[StageRow]:
    """Each stage on both backends from the same arrays, at the final size; ``right`` is the reference."""
    rows: list[StageRow] = []
    content, style = prepare_inputs(content, style, config.size, config)

    def add(stage: str, key: str, a, b) -> None:
        calls = {b.name: CALLS.get(b.name, {}).get(key, "") for b in (left, right)}
        rows.append(StageRow(stage, *difference(a, b), calls))

    xl, xr = left.preprocess(content), right.preprocess(content)
    add("preprocess (content image)", "preprocess", xl, xr)
    for index, a, b in zip(config.layers, left.extract_features(xr, config.layers),
                           right.extract_features(xr, config.layers)):
        add(f"features {config.net.names[index]} ({index})", "features", a, b)
    sr = right.preprocess(style[0])
    for index, a, b in zip(config.style_layers, left.extract_features(sr, config.style_layers),
                           right.extract_features(sr, config.style_layers)):
        add(f"Gram matrix {config.net.names[index]} ({index})", "gram", left.gram(a), right.gram(b))

    _, targets_l = compute_targets(left, content, style, config)
    _, targets_r = compute_targets(right, content, style, config)
    x = xr + np.random.default_rng(seed).normal(0, NOISE, xr.shape).astype(np.float32)
    left.use_targets(targets_l, config.loss_weights)
    right.use_targets(targets_r, config.loss_weights)
    terms_l, grad_l = left.evaluate(x)
    terms_r, grad_r = right.evaluate(x)
    for name in ("content", "style", "tv", "total"):
        add(f"{name} loss (weighted)", name, getattr(terms_l, name), getattr(terms_r, name))
    add("gradient d total / d image", "backward", grad_l, grad_r)
    for align in (False, True):
        moves = []
        for backend, targets in ((left, targets_l), (right, targets_r)):
            backend.start(x, targets, config.loss_weights, replace(config.adam, align_epsilon=align), config.schedule.lr)
            backend.step()
            moves.append(backend.image() - x)
        add(f"one Adam step, {'aligned' if align else 'native'} epsilon (update of the image)", "adam", *moves)
    return rows


def layout_rows(plain: StyleBackend, fast: StyleBackend, content: np.ndarray, style: Images,
                config: TransferConfig, seed: int = 0) -> list[StageRow]:
    """One framework in two executions (e.g. NCHW vs channels_last): deepest features and gradient."""
    content, style = prepare_inputs(content, style, config.size, config)
    x0 = plain.preprocess(content)
    deepest = config.last_layer
    a, b = fast.extract_features(x0, [deepest])[0], plain.extract_features(x0, [deepest])[0]
    _, targets = compute_targets(plain, content, style, config)
    x = x0 + np.random.default_rng(seed).normal(0, NOISE, x0.shape).astype(np.float32)
    fast.use_targets(targets, config.loss_weights)
    plain.use_targets(targets, config.loss_weights)
    grad_fast = fast.evaluate(x)[1]
    grad_plain = plain.evaluate(x)[1]
    calls = {"a": "default (optimized)", "b": "NCHW, imperative"}
    return [StageRow(f"{plain.name} features {config.net.names[deepest]} ({deepest})", *difference(a, b), calls),
            StageRow(f"{plain.name} gradient d total / d image", *difference(grad_fast, grad_plain), calls)]


def stage_times(backend: StyleBackend, content: np.ndarray, style: Images, config: TransferConfig,
                steps: int = 5) -> dict[str, float]:
    """Median seconds per stage over ``steps`` synchronised steps after one warm-up step."""
    content, style = prepare_inputs(content, style, config.size, config)
    init, targets = compute_targets(backend, content, style, config)
    backend.start(init, targets, config.loss_weights, config.adam, config.schedule.lr)
    return time_steps(backend, steps, warmup=1)


def trajectories(left: StyleBackend, right: StyleBackend, content: np.ndarray, style: Images,
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


def tab_config(base: TransferConfig, tab: Tab) -> TransferConfig:
    return replace(base, content_layers=tab.content_layers, style_layers=tab.style_layers,
                   schedule=replace(base.schedule, lr=tab.lr),
                   adam=replace(base.adam, align_epsilon=tab.align_epsilon)).validate()


def ablation(make: Callable[[str, Tab], Optional[StyleBackend]], read: Callable[[Tab], tuple[np.ndarray, np.ndarray]],
             mxnet: Tab, torch: Tab, base: TransferConfig,
             say: Callable[[str], None] = lambda _: None) -> tuple[dict[str, Run], list[AblationRow]]:
    """The chapter's two versions, then the MXNet one with one difference at a time taken from
    the PyTorch one, then with all of them: step-1 losses, final losses, PSNR between outputs.

    ``make(name, tab)`` returns a backend with the tab's weights (None if they cannot be
    had), ``read(tab)`` the content and style images resized the tab's way."""
    torch_backend = make("torch", torch)
    say(f"training the chapter's PyTorch version, {base.schedule.steps} steps")
    reference = Run.of(torch_backend, "d2l", transfer(torch_backend, *read(torch), tab_config(base, torch)))
    chapter: dict[str, Run] = {"torch": reference}
    rows: list[AblationRow] = []
    cases = [("nothing (the chapter as written)", ())] + list(TAB_DIFFERENCES.items())
    cases.append(("all five", tuple(f for fields in TAB_DIFFERENCES.values() for f in fields)))
    for label, fields in cases:
        tab = without(mxnet, torch, fields)
        if fields and tab == mxnet:  # e.g. both already use --weights random: nothing to remove
            rows.append(AblationRow(label, {}, {}, float("nan"), "no difference in this run (same setting in both)"))
            continue
        backend = make("mxnet", tab)
        if backend is None:
            rows.append(AblationRow(label, {}, {}, float("nan"), f"weights {tab.weights!r} unavailable"))
            continue
        say(f"training the chapter's MXNet version with {label} removed, {base.schedule.steps} steps")
        run = Run.of(backend, label, transfer(backend, *read(tab), tab_config(base, tab)))
        if not fields:
            chapter["mxnet"] = run
        rows.append(AblationRow(label, {"mxnet": run.first, "torch": reference.first},
                                {"mxnet": run.last, "torch": reference.last}, psnr(run.image, reference.image)))
    return chapter, rows

