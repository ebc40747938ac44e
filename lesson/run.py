"""Build the lesson notebook from its text source and run it: ``lesson/style_transfer.py``
(jupytext percent, the one to edit) -> the executed notebook, every number and picture in it.

    python lesson/run.py --weights FILE           # the committed lesson/style_transfer.ipynb: 200x300, both frameworks
    python lesson/run.py --size 64x96 --steps 10 --loop-steps 6 --out /tmp/quick.ipynb   # small and quick
    python lesson/run.py --build-only             # the notebook without outputs, to check it opens

The network is the chapter's ImageNet VGG-19 (``--weights imagenet``, downloaded once by
torchvision); ``--weights FILE`` takes any weights file the project reads; ``--weights random``
is a smoke run, with a banner on every picture. What is missing offline is said in one line
before a kernel starts. The settings reach the notebook as LESSON_* environment variables."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SOURCE, BUILT = HERE / "style_transfer.py", HERE / "style_transfer.ipynb"
if str(ROOT) not in sys.path:  # run as a script, the project's packages are beside this folder
    sys.path.insert(0, str(ROOT))


def build():
    """The notebook of the text source, without outputs."""
    import jupytext

    return jupytext.read(SOURCE)


def execute(settings: dict[str, str], timeout: int = 3600):
    """The built notebook, executed in a fresh kernel at the repository root."""
    from nbclient import NotebookClient

    notebook = build()
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)  # the kernel inherits this process's environment
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def resolve(args: argparse.Namespace) -> dict[str, str]:
    """The photo, the painting and the weights, fetched and checked here so that what is missing
    is one line from this process, not a traceback from a kernel (UserError)."""
    from common.tools.io.downloads import sample_image
    from common.tools.io.offline import check_downloads
    from common.tools.io.weights import check_spec, load_weights

    check_spec(args.weights)
    # Every missing piece in one line, before torchvision's loader can print a line of its own.
    check_downloads(args.content, [args.style] if args.style else None, args.weights, "vgg19")
    content = Path(args.content).resolve() if args.content else sample_image("content")
    style = Path(args.style).resolve() if args.style else sample_image("style")
    load_weights(args.weights)  # a source downloads and caches here: the kernel then reads the cache
    spec = args.weights if args.weights in ("imagenet", "gluon", "random") else str(Path(args.weights).resolve())
    return {"LESSON_CONTENT": str(content), "LESSON_STYLE": str(style), "LESSON_WEIGHTS": spec}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lesson/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="200x300", help="HxW of every picture (default 200x300)")
    p.add_argument("--steps", type=int, default=30, help="L-BFGS evaluations per exercise picture (default 30)")
    p.add_argument("--loop-steps", type=int, default=30, help="Adam steps of the two plain loops (default 30)")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (the chapter's VGG-19, the default), a weights file, or random (a smoke run)")
    p.add_argument("--content", help="the photo (default: the chapter's, downloaded)")
    p.add_argument("--style", help="the painting (default: the chapter's, downloaded)")
    p.add_argument("--pictures", help="a folder to write the exercises' pictures to, as exercise-*.jpg")
    p.add_argument("--out", default=str(BUILT), help="the executed notebook (default lesson/style_transfer.ipynb)")
    p.add_argument("--build-only", action="store_true", help="write the notebook without outputs to --out and stop")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    import nbformat

    if args.build_only:
        nbformat.write(build(), args.out)
        return 0
    from common.errors import UserError

    try:
        settings = resolve(args)
    except UserError as exc:
        print(f"lesson/run.py: {exc}", file=sys.stderr)
        return 2
    settings.update({"LESSON_SIZE": args.size, "LESSON_STEPS": str(args.steps),
                     "LESSON_LOOP_STEPS": str(args.loop_steps)})
    if args.pictures:
        settings["LESSON_PICTURES"] = str(Path(args.pictures).resolve())
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
