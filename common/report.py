"""Rendering a comparison: one list of blocks (headings, paragraphs, tables, pictures) written
as report.md (pictures beside it), report.html (pictures embedded: one self-contained file)
and numbers.json (everything measured)."""
from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Table:
    headers: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Picture:
    file: str  # name inside the report folder
    caption: str


Block = Union[Heading, Para, Table, Picture]


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞"
        if value == 0:
            return "0"
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 else f"{value:.2e}"
    return str(value)


def to_markdown(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append("#" * b.level + " " + b.text)
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Table):
            out.append("| " + " | ".join(b.headers) + " |")
            out.append("|" + "---|" * len(b.headers))
            out += ["| " + " | ".join(fmt(c).replace("|", "\\|") for c in row) + " |" for row in b.rows]
        elif isinstance(b, Picture):
            out.append(f"![{b.caption}]({b.file})\n\n*{b.caption}*")
        out.append("")
    return "\n".join(out)


def to_html(blocks: Sequence[Block], folder: Path, title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{html.escape(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{_inline(b.text)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.headers)
            rows = "".join("<tr>" + "".join(f"<td>{_inline(fmt(c))}</td>" for c in row) + "</tr>" for row in b.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Picture):
            data = base64.b64encode((folder / b.file).read_bytes()).decode("ascii")
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(b.caption)}">'
                        f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:left;vertical-align:top}th{background:#f3f3f3}code{background:#f6f6f6;padding:0 3px}"
             "figure{display:inline-block;margin:0.5em}img{max-width:100%}figcaption{font-size:0.85em;color:#555}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>")


def _inline(text: str) -> str:
    """`code` spans as <code>; everything else escaped."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else str(v)
    if isinstance(value, np.integer):
        return int(value)
    return value


def write(folder: Path, blocks: Sequence[Block], numbers: dict, title: str) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": folder / "report.md", "html": folder / "report.html", "json": folder / "numbers.json"}
    paths["markdown"].write_text(f"# {title}\n\n" + to_markdown(blocks), encoding="utf-8")
    paths["html"].write_text(to_html([Heading(title, 1), *blocks], folder, title), encoding="utf-8")
    paths["json"].write_text(json.dumps(_jsonable(numbers), indent=1), encoding="utf-8")
    return paths


# -- plots ------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_trajectories(runs: dict[str, dict[str, Any]], path: Path, reference: str) -> Path:
    """Left: total loss per step for every (mode, backend); right: relative gap to ``reference``."""
    plt = _pyplot()
    fig, (ax, gap) = plt.subplots(1, 2, figsize=(11, 4), dpi=100)
    styles = {"native": "-", "aligned": "--", "d2l": "-"}
    for mode, by_backend in runs.items():
        for name, run in by_backend.items():
            ax.plot(range(1, len(run.totals) + 1), run.totals, styles.get(mode, ":"), label=f"{name}, {mode}")
        if reference in by_backend:
            ref = np.asarray(by_backend[reference].totals)
            for name, run in by_backend.items():
                if name != reference and len(run.totals) == len(ref):
                    rel = np.abs(np.asarray(run.totals) / ref - 1)
                    gap.plot(range(1, len(rel) + 1), np.maximum(rel, 1e-12), styles.get(mode, ":"),
                             label=f"|{name} / {reference} - 1|, {mode}")
    ax.set(yscale="log", xlabel="step", ylabel="total loss", title="training trajectories")
    gap.set(yscale="log", xlabel="step", ylabel="relative difference", title="gap between the backends")
    for a in (ax, gap):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_difference(a: np.ndarray, b: np.ndarray, path: Path, title: str) -> Path:
    plt = _pyplot()
    diff = np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean(axis=2)
    h, w = diff.shape
    fig, ax = plt.subplots(figsize=(max(4.0, 6 * w / max(h, w)) + 1.2, max(3.0, 6 * h / max(h, w))), dpi=100)
    shown = ax.imshow(diff, cmap="magma", vmin=0)
    ax.set(title=title, xticks=[], yticks=[])
    fig.colorbar(shown, ax=ax, label="mean |difference| over RGB, [0, 1] scale")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
