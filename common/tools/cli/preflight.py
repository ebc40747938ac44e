"""The checks a run makes before any real work: everything that can be known from the command
line, the files named and the environment is checked before a framework is imported, a weight
downloaded or any work started, so a mistake costs a second, not a download or a run. The
run's configuration is built here, once, from the content image's size (read from its header)
and what the weights are (a source's network and convention; a file, read: a torchvision or
Gluon file by its framework, the one import these checks can make), and every script calls its
``check_*`` here: run.py, batch.py, compare.py and bench.py.

Where each rule lives is said in ``options.py``'s docstring; the option ranges that set no field
of the configuration are ``limits.py``'s tables, one per script.

Order matters: the options' ranges first, then the files read, then the configuration, then the
paths written, so that a refused run creates nothing (only --log's folder is made, last: the log
is opened as a plain file). ``--size N`` needs the content's shape: without --content, the
chapter's photo is fetched for it first."""
from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Iterable, Optional

from common.config import TransferConfig
from common.errors import UserError
from common.interface import StyleBackend
from common.registry import framework_tools
from common.weights import Weights

from ..io.downloads import sample_image
from ..io.offline import check_downloads
from ..io.pictures import check_image_file, check_image_path, check_writable, picture_size  # noqa: F401 - batch asks for it here
from ..io.weights import SOURCES, check_spec, described
from .limits import BATCH_LIMITS, BENCH_LIMITS, COMPARE_LIMITS, MEMORY_SIZES, RUN_LIMITS
from .options import check_limits, config_from, needs_content


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
    from ..io.figures import config_dir

    config_dir()  # before matplotlib's first import: its advice on an unusable HOME stays off stderr
    from matplotlib.backend_bases import FigureCanvasBase

    target = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if target.suffix.lower().lstrip(".") not in formats and not target.is_dir():
        raise UserError(f"--plot {target}: matplotlib cannot write {target.suffix or 'a file without an extension'}; "
                        f"use one of .{', .'.join(sorted(formats))}")
    return check_writable(target, create=False)


def configure(args: argparse.Namespace, weights: Weights, styles: int) -> TransferConfig:
    """The run's configuration, built once and checked, with the weights' network and convention;
    ``--size N`` reads the content's shape (the chapter's photo, fetched, when none is given)."""
    content = None
    if needs_content(args):
        content = picture_size(args.content or sample_image("content"))
    config = config_from(args, content, weights)
    config.blend(styles)  # one share per style
    return config


def weights_described(args: argparse.Namespace) -> Weights:
    """What --weights is, cheaply: a source's network and convention (its arrays are fetched
    later, after the backend's checks), or a file, read and checked whole."""
    return described(args.weights, getattr(args, "network", None), getattr(args, "seed", 0),
                     getattr(args, "weights_convention", None))


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


# A second default run numbers its picture rather than replace the first: refusing would fail the
# README's own command the second time it is typed; an --output given is the user's to replace.
DEFAULT_OUTPUT, NUMBERED_OUTPUT = "stylized.png", "stylized-N.png"


def default_output() -> str:
    if not os.path.lexists(DEFAULT_OUTPUT):
        return DEFAULT_OUTPUT
    n = 2
    while os.path.lexists(f"stylized-{n}.png"):
        n += 1
    return f"stylized-{n}.png"


def check_snapshots(args: argparse.Namespace, total_steps: int) -> None:
    """No file read or written is one of the snapshots --save-every writes beside --output."""
    if not args.save_every:
        return
    from .command_run import snapshot_path  # the one place their names are made

    output = Path(args.output)
    pattern = re.compile(re.escape(output.stem) + r"_step(\d+)" + re.escape(output.suffix) + "$")
    others = [("--content", args.content), *(("--style", s) for s in args.style or []),
              ("--weights", None if args.weights in SOURCES else args.weights), ("--resume", getattr(args, "resume", None)),
              ("--plot", args.plot), ("--log", args.log), ("--checkpoint", args.checkpoint)]
    folder = _key(str(output.parent))
    for flag, path in others:
        if not path or _key(str(Path(path).parent)) != folder:
            continue
        match = pattern.match(Path(path).name)
        if match and 1 <= (step := int(match.group(1))) <= total_steps and step % args.save_every == 0 \
                and snapshot_path(output, step).name == Path(path).name:
            raise UserError(f"{flag} {path} is the snapshot --save-every {args.save_every} writes at step {step}: "
                            f"writing it would destroy it; give --output another name")


def check_run(args: argparse.Namespace) -> tuple[TransferConfig, Weights]:
    """run.py's options, files and paths, and its configuration; raises UserError (one line) on
    the first problem. Returns the configuration and the weights as :func:`weights_described`
    gives them (a source's without arrays)."""
    args.output = args.output or default_output()
    _check_names(args, ("content", "style", "output", "plot", "log", "checkpoint", "resume", "weights"))
    check_limits(args, RUN_LIMITS)
    check_spec(args.weights)
    check_inputs(args)
    check_distinct(args)
    weights = weights_described(args)
    late = not needs_content(args)  # the numbers are checked before any download, unless --size N needs the photo
    if not late:
        check_downloads(args.content, args.style, args.weights, args.network)  # all that is missing, in one line
    config = configure(args, weights, len(args.style) if args.style else 1)
    if late:
        check_downloads(args.content, args.style, args.weights, args.network)
    check_snapshots(args, config.total_steps)
    # Snapshots go beside it, with its extension, which some formats cannot hold at this size.
    check_image_path(args.output, create=False, long_side=max(config.size))
    if args.plot:
        check_plot_path(args.plot)
    if args.checkpoint:
        check_writable(args.checkpoint, create=False)
    if args.log:
        check_writable(args.log)  # last: it makes the log's folder
    return config, weights


def check_compare(args: argparse.Namespace) -> tuple[Path, TransferConfig, Weights]:
    """compare.py's options, files, configuration and report folder (not created); returns the
    folder, the configuration and the weights as :func:`weights_described` gives them."""
    _check_names(args, ("content", "style", "report", "weights"))
    check_limits(args, COMPARE_LIMITS)
    check_spec(args.weights)
    check_inputs(args)
    weights = weights_described(args)
    late = not needs_content(args)
    if not late:
        check_downloads(args.content, args.style, args.weights, args.network)
    config = configure(args, weights, len(args.style) if args.style else 1)
    if args.tabs and weights.network.name != "vgg19":
        raise UserError(f"--tabs runs the chapter's two tabs, which use VGG-19; --weights {args.weights} holds "
                        f"{weights.network.title}: leave --tabs out")
    folder = Path(args.report)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--report {folder} is a file; give a folder")
    check_writable(folder / "report.md", create=False)
    if late:
        check_downloads(args.content, args.style, args.weights, args.network)
    return folder, config, weights


def check_bench(args: argparse.Namespace) -> None:
    """bench.py's options (whichever its command has), before a worker process is started or a
    sample image downloaded."""
    _check_names(args, ("content", "style", "json", "weights"))
    check_limits(args, BENCH_LIMITS)
    if getattr(args, "command", None) == "memory" and args.sizes:
        MEMORY_SIZES.check("--sizes", " ".join(f"{height}x{width}" for height, width in args.sizes))
    if getattr(args, "weights", None):
        check_spec(args.weights)
    for path in filter(None, (getattr(args, "content", None), getattr(args, "style", None))):
        check_image_file(path)
    if args.json:
        check_writable(args.json, create=False)


def check_batch(args: argparse.Namespace) -> Weights:
    """batch.py's own options and --weights, before its pairs are listed; returns the weights as
    :func:`weights_described` gives them (a file is read once, here, not in every worker)."""
    check_limits(args, BATCH_LIMITS)
    if args.cpus_per_task == 0 and args.gpus_per_task == 0:
        raise UserError("a task needs some CPUs or GPUs: --cpus-per-task and --gpus-per-task are both 0")
    check_spec(args.weights)
    check_downloads(None, None, args.weights, args.network, samples=False)
    return weights_described(args)


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
