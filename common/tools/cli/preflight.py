"""The checks a run makes before any real work: everything that can be known from the command
line, the files named and the environment is checked before an image is decoded, a framework
imported or a weight downloaded, so a mistake costs a second, not a download or a run.

Order matters: numbers first, then the files read, then the paths written, so that a refused
run creates nothing (only --log's folder is made, last: the log is opened as a plain file)."""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Iterable, Optional

from common.config import TransferConfig
from common.errors import UserError
from common.interface import StyleBackend
from common.registry import framework_tools

from ..io.pictures import check_image_file, check_image_path, check_writable
from ..io.weights import SOURCES, check_spec
from .options import config_from


def _whole_at_least(flag: str, value: int, low: int, meaning: str = "") -> None:
    if value < low:
        raise UserError(f"{flag} must be a whole number >= {low}{meaning}, not {value}")


def positive_real(flag: str, value: float, unit: str = "number") -> None:
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{flag} must be a positive {unit}, not {value}")


def _check_names(args: argparse.Namespace, names: Iterable[str]) -> None:
    """The file names given, before anything looks at them: an empty name would silently mean "not
    given" (the sample image downloaded instead), and a name the system cannot even look up (too
    long, a folder on the way that cannot be searched) makes the first stat raise OSError."""
    for name in names:
        value = getattr(args, name, None)
        flag = f"--{name.replace('_', '-')}"
        for path in value if isinstance(value, list) else [value]:
            if path == "":
                raise UserError(f"{flag} is an empty file name")
            if path is None or (name == "weights" and path in SOURCES):
                continue
            path = os.path.expanduser(path)
            _check_name_lengths(flag, path)
            try:
                os.stat(path)
            except (FileNotFoundError, NotADirectoryError):
                pass  # missing: each option's own check says what that means for it
            except OSError as exc:
                raise UserError(f"{flag} {path}: {exc.strerror or exc}") from None


def _check_name_lengths(flag: str, path: str) -> None:
    """Names longer than the file system allows. Checked by length, not by a stat, because a name
    under folders that do not exist yet (an output's, made later) gives "not found" first."""
    folder = os.path.abspath(path)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    limits = []
    for key, usual in (("PC_NAME_MAX", 255), ("PC_PATH_MAX", 4096)):
        try:
            limits.append(os.pathconf(folder, key))
        except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer: the usual limits
            limits.append(usual)
    name_max, path_max = limits
    longest = max(Path(path).parts, key=lambda part: len(os.fsencode(part)))
    if len(os.fsencode(longest)) > name_max:
        raise UserError(f"{flag}: the name {longest[:24]}... is {len(os.fsencode(longest))} bytes long, more than the "
                        f"{name_max} a file or folder name may have here")
    if len(os.fsencode(os.path.abspath(path))) >= path_max:
        raise UserError(f"{flag}: the path is {len(os.fsencode(os.path.abspath(path)))} bytes long, more than the "
                        f"{path_max - 1} a path may have here")


def check_plot_path(path: str) -> Path:
    """A file matplotlib can write (it writes .pdf and .svg, which Pillow cannot, and not .bmp)."""
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if target.suffix.lower().lstrip(".") not in formats and not target.is_dir():
        raise UserError(f"--plot {target}: matplotlib cannot write {target.suffix or 'a file without an extension'}; "
                        f"use one of .{', .'.join(sorted(formats))}")
    return check_writable(target, create=False)


def check_settings(args: argparse.Namespace) -> TransferConfig:
    """Every number of the transfer options, before any image is read or downloaded. The content's
    size is not known yet: ``--size N`` is checked as N x N here, and again at the content's aspect
    ratio once it is read."""
    config = config_from(args, content=(1, 1))  # --size N of a 1 x 1 stand-in: N x N
    config.blend(len(args.style) if args.style else 1)
    return config


def check_inputs(args: argparse.Namespace) -> None:
    """The content and style files given, from their headers: missing, a folder, empty, not an
    image, a decompression bomb. (Truncated pixel data shows only when decoded, before any work.)"""
    for path in ([args.content] if args.content else []) + list(args.style or []):
        check_image_file(path)


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(os.path.expanduser(path)))


def check_distinct(args: argparse.Namespace) -> None:
    """No file is written twice, and no file read is overwritten: a --checkpoint may be the file
    --resume reads (the run then goes on keeping it), nothing else may be shared."""
    writes = [(flag, getattr(args, flag.lstrip("-").replace("-", "_"), None))
              for flag in ("--output", "--plot", "--log", "--checkpoint")]
    reads = [("--content", args.content), *(("--style", s) for s in args.style or []),
             ("--weights", None if args.weights in SOURCES else args.weights), ("--resume", getattr(args, "resume", None))]
    seen: dict[str, str] = {}
    for flag, path in writes:
        if not path:
            continue
        key = _key(path)
        if key in seen:
            raise UserError(f"{flag} {path} is also {seen[key]}: give each file its own name")
        seen[key] = flag
    for flag, path in reads:
        if path and _key(path) in seen:
            writer = seen[_key(path)]
            if (writer, flag) != ("--checkpoint", "--resume"):
                raise UserError(f"{writer} {path} is the {flag} file: writing it would destroy what the run reads")


def check_run(args: argparse.Namespace) -> None:
    """run.py's options, files and paths; raises UserError (one line) on the first problem."""
    _check_names(args, ("content", "style", "output", "plot", "log", "checkpoint", "resume", "weights"))
    _whole_at_least("--save-every", args.save_every, 0, " (0: never)")
    _whole_at_least("--checkpoint-every", args.checkpoint_every, 1)
    if args.max_memory is not None:
        positive_real("--max-memory", args.max_memory, "number of GiB")
    check_settings(args)
    check_spec(args.weights)
    check_inputs(args)
    check_distinct(args)
    # Snapshots go beside it, with its extension; the result's longer side is at most the largest
    # --size number (checked above), which some formats cannot hold.
    check_image_path(args.output, create=False, long_side=max(args.size))
    if args.plot:
        check_plot_path(args.plot)
    if args.checkpoint:
        check_writable(args.checkpoint, create=False)
    if args.log:
        check_writable(args.log)  # last: it makes the log's folder


def check_compare(args: argparse.Namespace) -> Path:
    """compare.py's options, files and report folder (not created); returns the folder."""
    _check_names(args, ("content", "style", "report", "weights"))
    _whole_at_least("--timing-steps", args.timing_steps, 1)
    if args.max_memory is not None:
        positive_real("--max-memory", args.max_memory, "number of GiB")
    check_settings(args)
    check_spec(args.weights)
    check_inputs(args)
    folder = Path(args.report)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--report {folder} is a file; give a folder")
    check_writable(folder / "report.md", create=False)
    return folder


def check_bench(args: argparse.Namespace) -> None:
    """bench.py's options (whichever its command has), before a worker process is started or a
    sample image downloaded."""
    _check_names(args, ("content", "style", "json", "weights"))
    if getattr(args, "weights", None):
        check_spec(args.weights)
    for flag, low in (("steps", 1), ("warmup", 0), ("pairs", 1)):
        if getattr(args, flag, None) is not None:
            _whole_at_least(f"--{flag}", getattr(args, flag), low)
    if getattr(args, "cap", None) is not None:
        positive_real("--cap", args.cap)
    for path in filter(None, (getattr(args, "content", None), getattr(args, "style", None))):
        check_image_file(path)
    if args.json:
        check_writable(args.json, create=False)


def check_capabilities(args: argparse.Namespace, backend_class: type[StyleBackend]) -> None:
    """Options the chosen backend cannot honour, asked of its class before it is built (and
    before any weights are downloaded)."""
    name = backend_class.name
    precision: Optional[str] = getattr(args, "precision", "fp32")
    if precision not in backend_class.precisions:
        raise UserError(f"--precision {precision}: the {name} backend runs {', '.join(backend_class.precisions)} "
                        f"only (see docs/speed.md)")
    if getattr(args, "compile", False) and not backend_class.compiles:
        raise UserError(f"--compile: the {name} backend has no compile step (its blocks are hybridized already)")
    if args.device == "gpu":
        status = framework_tools(name).gpu_status()
        if not status.usable:
            raise UserError(f"--device gpu: {backend_class.framework} cannot use a GPU here: {status.detail}")


def check_backend(args: argparse.Namespace, backend_class: type[StyleBackend], prog: str = "run.py") -> None:
    """:func:`check_capabilities`, then one warning line for each option that would change nothing."""
    check_capabilities(args, backend_class)
    if args.seed != 0 and args.weights != "random" and getattr(args, "init", "content") != "noise":
        print(f"{prog}: warning: --seed {args.seed} changes nothing: it seeds only --weights random and --init noise",
              file=sys.stderr)
    if getattr(args, "align_adam_epsilon", False) and backend_class.adam_epsilon == "corrected":
        print(f"{prog}: warning: --align-adam-epsilon changes nothing on {backend_class.name}: its Adam already adds "
              f"epsilon as the aligned form does", file=sys.stderr)
