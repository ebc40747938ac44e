"""``bench.py quality --set recipes``: each recipe as a user runs it — ``run.py`` in a process of
its own, at its own defaults, timed from the shell's side (start-up, weights, writing the picture
included) — against the chapter's 500 steps, judged by one independent loss of each saved picture.

The judge is this worker's own backend (fp32), which reads the PNG each run wrote and computes
its loss with the targets of the picture's size and the objective's weights; the runs never see
it. Two objectives: the convention's default weights, and the same with the TV weight at 0 (one
where the default TV weight is 0)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from common.config import TransferConfig
from common.defaults import defaults_for
from common.registry import load_backend
from common.targets import compute_targets, prepare_inputs

from ..io.downloads import sample_image
from ..io.pictures import load_rgb
from ..io.weights import load_weights
from .processes import ROOT, run_child

# What a user types after the common options; the first sets the bar.
RECIPES = {
    "chapter (500 Adam steps)": [],
    "--recipe fast": ["--recipe", "fast"],
    "--optimizer lbfgs --steps 100": ["--optimizer", "lbfgs", "--steps", "100"],
}


def whole_run(options: list[str], output: Path) -> tuple[float, str]:
    """``run.py OPTIONS --output OUTPUT`` from start to exit: its wall time and its summary line."""
    child = run_child([sys.executable, str(ROOT / "scripts" / "run.py"), *options, "--output", str(output)])
    if child.status != 0:
        raise RuntimeError(f"run.py {' '.join(options)} failed ({child.status}): {child.err.strip()[-500:]}")
    return child.seconds, child.out.strip().splitlines()[-1]


def worker(name: str, size: tuple[int, int], args: argparse.Namespace, warn: Callable[[str], None]) -> dict:
    content_path = args.content or str(sample_image("content"))
    style_path = args.style or str(sample_image("style"))
    weights = load_weights(args.weights, args.network, 0, args.weights_convention)
    defaults = defaults_for(weights.convention.name)
    judge = load_backend(name)(weights, last_layer=TransferConfig(network=weights.network.name).last_layer,
                               device=args.device)
    content, style = load_rgb(content_path), load_rgb(style_path)
    common = ["--backend", name, "--weights", args.weights, "--content", content_path, "--style", style_path,
              "--size", str(size[0]), str(size[1]), "--device", args.device]
    if args.network:
        common += ["--network", args.network]
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        objectives = {"default weights": defaults.loss_weights, "TV weight 0": replace(defaults.loss_weights, tv=0.0)}
        if defaults.loss_weights.tv == 0:  # the Caffe convention's default is TV 0 already: one objective
            objectives.pop("TV weight 0")
        for objective, weights_of in objectives.items():
            config = TransferConfig(size=size, network=weights.network.name, loss_weights=weights_of)
            _, targets = compute_targets(judge, *prepare_inputs(content, [style], size, config), config)
            objective_flags = [] if objective == "default weights" else ["--tv-weight", "0"]
            rows = []
            for label, flags in RECIPES.items():
                warn(f"recipes: {name} {size[0]}x{size[1]}, {objective}: {label}")
                picture = Path(folder) / "picture.png"
                seconds, summary = whole_run(common + objective_flags + flags, picture)
                image = load_rgb(str(picture)).astype(np.float32) / 255.0  # (H, W, 3) as saved
                judge.use_targets(targets, weights_of)
                loss = judge.evaluate(judge.preprocess(image))[0].total
                rows.append({"recipe": label, "seconds": seconds, "picture_loss": float(loss), "summary": summary})
            bar, total = rows[0]["picture_loss"], rows[0]["seconds"]
            for row in rows:
                row["loss_ratio"], row["speedup"] = row["picture_loss"] / bar, total / row["seconds"]
            out[objective] = rows
    return {"backend": name, "framework": judge.framework, "size": list(size), "weights": args.weights,
            "convention": weights.convention.name, "content": Path(content_path).name, "style": Path(style_path).name,
            "objectives": out}


def table(results: list[dict]) -> str:
    lines = []
    for r in results:
        for objective, rows in r["objectives"].items():
            lines.append(f"{r['backend']} at {r['size'][0]}x{r['size'][1]}, {r['content']} + {r['style']}, {objective} "
                         f"(whole process; picture loss judged on the saved file):")
            lines.append(f"  {'recipe':34} {'seconds':>8} {'picture loss':>12} {'/ chapter':>9} {'sooner':>7}")
            for row in rows:
                lines.append(f"  {row['recipe']:34} {row['seconds']:8.1f} {row['picture_loss']:12.4g} "
                             f"{row['loss_ratio']:9.3f} {row['speedup']:6.2f}x")
            for row in rows[1:]:
                lines.append(f"    {row['recipe']}: {row['summary']}")
    return "\n".join(lines)
