"""The child's side of one measurement per process (``processes.py`` starts it): the options
as JSON in, the numbers as one JSON line out."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

def main(argv: Optional[Sequence[str]] = None) -> int:
    from . import memory, quality, recipes, speed

    job = json.loads((argv or sys.argv[1:])[0])
    args = argparse.Namespace(**job["args"])

    def warn(text: str) -> None:
        print(f"bench.py: {text}", file=sys.stderr, flush=True)

    work = {"speed": speed.worker, "quality": quality.worker, "memory": memory.worker,
            "recipes": recipes.worker}[job["kind"]]
    print(json.dumps(work(job["backend"], tuple(job["size"]), args, warn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
