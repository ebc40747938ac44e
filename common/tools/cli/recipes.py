"""Run recipes: option defaults that ``run.py --recipe NAME`` (and ``batch.py``) apply; options
given explicitly still win."""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

# "chapter" is the chapter's algorithm, every default as it is. "fast" is the method that reached
# the chapter's picture quality soonest in ``bench.py quality`` (docs/quality.md, "Time to quality"): Adam
# kept inside [0, 1], two sizes a factor 2 apart, moments reset between them, the second size at
# the convention's --scale-lr (0.05 for torchvision's). Each size stops once its loss has improved
# by less than 10 % over its last 3 steps (at most 50 and 100 steps): on the trained VGG-16 the
# chapter's picture quality is passed within the first final-size steps, and the rule ends there
# instead of 100 steps later (docs/quality.md, "What a user gets").
RUN_RECIPES: dict[str, dict[str, object]] = {
    "chapter": {},
    "fast": {"bounded": True, "scales": 2, "scale_factor": 2.0, "scale_steps": 50, "scale_moments": "reset",
             "steps": 100, "plateau_window": 3, "plateau_fraction": 0.1},
}


def with_recipe(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> argparse.ArgumentParser:
    """The parser with ``--recipe``'s defaults set (read first, before the real parse)."""
    chosen, _ = parser.parse_known_args(argv)
    parser.set_defaults(**RUN_RECIPES[chosen.recipe])
    return parser
