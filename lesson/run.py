"""Build the lesson notebook from its text source and run it: ``lesson/style_transfer.py``
(jupytext percent, the one to edit) -> ``lesson/style_transfer.ipynb`` (built, no outputs) ->
an executed copy with every number and picture.

    python lesson/run.py                                   # small and quick: about a minute
    python lesson/run.py --size 200x300 --steps 100 --out lesson/executed.ipynb   # the prettier pictures

The settings reach the notebook as LESSON_* environment variables of its kernel."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
SOURCE, BUILT = HERE / "style_transfer.py", HERE / "style_transfer.ipynb"


def build():
    """The notebook of the text source, without outputs."""
    import jupytext

    return jupytext.read(SOURCE)


def write_built() -> Path:
    import jupytext

    jupytext.write(build(), BUILT)
    return BUILT


def execute(settings: dict[str, str], timeout: int = 1800):
    """The built notebook, executed in a fresh kernel at the repository root."""
    from nbclient import NotebookClient

    notebook = build()
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE.parent)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lesson/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="64x96", help="HxW of every picture (default 64x96)")
    p.add_argument("--steps", type=int, default=10, help="L-BFGS evaluations per exercise picture (default 10)")
    p.add_argument("--loop-steps", type=int, default=6, help="Adam steps of the two plain loops (default 6)")
    p.add_argument("--weights", help="a trained VGG weights file (default: $STYLE_TRANSFER_TEST_WEIGHTS)")
    p.add_argument("--content", help="the photo (default: the chapter's, downloaded)")
    p.add_argument("--style", help="the painting (default: the chapter's, downloaded)")
    p.add_argument("--out", default=str(HERE / "executed.ipynb"), help="the executed notebook")
    p.add_argument("--build-only", action="store_true", help="write lesson/style_transfer.ipynb and stop")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    write_built()
    if args.build_only:
        return 0
    settings = {"LESSON_SIZE": args.size, "LESSON_STEPS": str(args.steps), "LESSON_LOOP_STEPS": str(args.loop_steps)}
    for key, value in (("LESSON_WEIGHTS", args.weights), ("LESSON_CONTENT", args.content), ("LESSON_STYLE", args.style)):
        if value:
            settings[key] = str(Path(value).resolve())
    import nbformat
    from nbclient.exceptions import CellExecutionError

    try:
        notebook = execute(settings)
    except CellExecutionError as exc:
        print(f"lesson/run.py: a cell failed: {str(exc).strip().splitlines()[-1]}", file=sys.stderr)
        return 1
    nbformat.write(notebook, args.out)
    print(f"lesson/run.py: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
