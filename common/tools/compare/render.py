"""Writing a report: one list of blocks (headings, paragraphs, tables, pictures) rendered as
report.md (pictures beside it), report.html (pictures embedded: one self-contained file) and
numbers.json (everything measured). It renders; it computes nothing."""
from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from ..io.files import atomic_path


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
    texts = {"markdown": f"# {title}\n\n" + to_markdown(blocks),
             "html": to_html([Heading(title, 1), *blocks], folder, title),
             "json": json.dumps(_jsonable(numbers), indent=1)}
    for kind, text in texts.items():
        with atomic_path(paths[kind]) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return paths
