"""How the lesson shows things: two functions' source side by side with the lines that differ
marked, a table, a picture as a JPEG (small enough to keep in a notebook)."""
from __future__ import annotations

import difflib
import html
import inspect
import io
from typing import Callable, Sequence

from PIL import Image


def side_by_side(mxnet: Callable, torch: Callable) -> str:
    """HTML: the MXNet function left, the PyTorch one right, differing lines shaded."""
    left, right = (inspect.getsource(f).rstrip().splitlines() for f in (mxnet, torch))
    rows = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_opcodes():
        a, b = left[i1:i2], right[j1:j2]
        for k in range(max(len(a), len(b))):
            shade = "" if tag == "equal" else " style='background:#fff3c4'"
            cells = [html.escape(side[k]) if k < len(side) else "" for side in (a, b)]
            rows.append(f"<tr{shade}><td><pre style='margin:0'>{cells[0]}</pre></td>"
                        f"<td><pre style='margin:0'>{cells[1]}</pre></td></tr>")
    return ("<table style='font-size:85%'><tr><th>MXNet (lesson/loop_mxnet.py)</th>"
            "<th>PyTorch (lesson/loop_torch.py)</th></tr>" + "".join(rows) + "</table>")


def differing_lines(mxnet: Callable, torch: Callable) -> int:
    left, right = (inspect.getsource(f).splitlines() for f in (mxnet, torch))
    return sum(1 for line in difflib.ndiff(left, right) if line.startswith("- "))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Markdown."""
    def cell(value: object) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def banner(image: Image.Image, text: str) -> Image.Image:
    """The picture with ``text`` across its top on red: for pictures of random weights."""
    from PIL import ImageDraw

    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, out.width, 13), fill=(200, 0, 0))
    draw.text((3, 1), text, fill="white")
    return out


def row(pictures: Sequence[tuple[str, "object"]], label: int = 14) -> Image.Image:
    """(caption, (H, W, 3) array in [0, 1]) pictures side by side, a caption under each."""
    import numpy as np
    from PIL import ImageDraw

    tiles = [Image.fromarray((np.clip(p, 0, 1) * 255 + 0.5).astype("uint8")) for _, p in pictures]
    out = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles) + label), "white")
    draw, x = ImageDraw.Draw(out), 0
    for (caption, _), tile in zip(pictures, tiles):
        out.paste(tile, (x, 0))
        draw.text((x + 2, tile.height + 1), caption, fill="black")
        x += tile.width
    return out
