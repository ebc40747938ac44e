"""What a batch will do, all checked before Ray starts: batch.py's own options, the pairs and
their output names, what shapes each picture (the options key), and each pair's configuration."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Optional

from common.config import TransferConfig
from common.errors import ConfigError, UserError
from common.registry import load_backend

from ..cli import preflight
from ..cli.options import config_from, needs_content
from ..cli.parsing import real, whole
from ..io.downloads import sha256_of
from ..io.pictures import check_writable
from ..io.weights import SOURCES
from .manifest import NAME_KEY_LENGTH, options_key
from .pairs import PAIRINGS, Pair, find_images, name_outputs, pair_up, read_pairs_csv

# Options that say which pairs and where they run, not how a picture is made: changing them
# never makes a finished pair run again.
NOT_OPTIONS = {"content", "style", "pairs", "pairing", "count", "pairing_seed", "out", "address", "cpus",
               "cpus_per_task", "gpus_per_task", "workers", "recipe", "max_memory"}


def add_batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", nargs="+", metavar="PATH", help="content images: files and/or folders")
    p.add_argument("--style", nargs="+", metavar="PATH", help="style images: files and/or folders")
    p.add_argument("--pairs", metavar="FILE.csv", help="instead of --content/--style: rows of content,style")
    p.add_argument("--pairing", choices=PAIRINGS, default="all",
                   help="all: every content with every style; zip: the i-th with the i-th; random: --count pairs")
    p.add_argument("--count", type=whole, metavar="N", help="--pairing random: how many different pairs")
    p.add_argument("--pairing-seed", type=whole, default=0, help="--pairing random: which pairs")
    p.add_argument("--out", required=True, metavar="DIR", help="pictures and manifest.jsonl go here")
    p.add_argument("--address", metavar="auto|HOST:PORT",
                   help="join a running Ray cluster (auto: the one on this machine); default: start a local Ray")
    p.add_argument("--cpus", type=whole, metavar="N", help="local Ray only: CPUs it may use (default: every core)")
    p.add_argument("--cpus-per-task", type=real, default=1.0,
                   help="CPUs per worker, given to Ray; its framework runs that many threads")
    p.add_argument("--gpus-per-task", type=real, default=0.0, help="GPUs per worker, given to Ray")
    p.add_argument("--workers", type=whole, metavar="N",
                   help="workers to start (default: as many as the cluster's CPUs and GPUs hold)")
    p.add_argument("--max-memory", type=real, metavar="GiB",
                   help="memory each worker's pair may use (default: what is free on its machine when the pair "
                        "starts); a pair estimated to need more fails in one line, as run.py refuses it")


def plan(args: argparse.Namespace, key: str = "") -> list[Pair]:
    """The pairs, each with its output ``OUT/CONTENT__STYLE.KEY.png`` (``key``: the options');
    nothing in --out is taken as an input."""
    out = Path(args.out)
    if args.pairs and (args.content or args.style):
        raise UserError("give --pairs FILE.csv or --content and --style, not both")
    if args.pairs:
        pairs = read_pairs_csv(args.pairs, out)
    else:
        if not args.content or not args.style:
            raise UserError("batch.py needs --content and --style (files or folders), or --pairs FILE.csv")
        pairs = pair_up(find_images(args.content, "content", out), find_images(args.style, "style", out),
                        args.pairing, args.count, args.pairing_seed)
    return name_outputs(pairs, out, key[:NAME_KEY_LENGTH])


def picture_options(args: argparse.Namespace) -> dict[str, Any]:
    """Everything that shapes a pair's picture: the options (after --recipe) and what the weights
    are; a weights file by its bytes, so another file at the same path is another picture."""
    options: dict[str, Any] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())
                               if k not in NOT_OPTIONS and k not in ("described", "configs")}
    identity = {"network": args.described.network.name, "convention": args.described.convention.name}
    if args.weights not in SOURCES:  # the same bytes from another folder or cwd: the same pictures
        identity["sha256"] = sha256_of(Path(args.weights))
        options.update(weights="file", weights_file=args.weights)
    options["weights_identity"] = identity
    return options


def check(args: argparse.Namespace) -> tuple[list[Pair], dict[str, Any]]:
    """Everything cheap, before Ray starts: the options, the weights, the pairs, the configuration,
    the backend's framework, the output folder (made last)."""
    # A file is read and checked here, once, before any worker would fail on it; its network and
    # convention decide the layers and loss weights of every pair.
    args.described = preflight.check_batch(args)
    options = picture_options(args)
    pairs = plan(args, options_key(options))
    Configs.of(args).check(pairs)
    preflight.check_backend(args, load_backend(args.backend), "batch.py")  # a missing framework: before Ray, not in every worker
    check_writable(Path(args.out) / "manifest.jsonl")
    return pairs, options


class Configs:
    """Each pair's configuration, built once from the options and the weights: one for every pair
    with --size H W, one per content size with --size N (the content's aspect ratio kept)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._made: dict[Optional[tuple[int, int]], TransferConfig] = {}

    @classmethod
    def of(cls, args: argparse.Namespace) -> "Configs":
        """The batch's, kept on ``args`` (the check makes it, the run uses it)."""
        if getattr(args, "configs", None) is None:
            args.configs = cls(args)
        return args.configs

    def get(self, content: tuple[int, int]) -> TransferConfig:
        """The configuration of a pair whose content is (height, width) ``content``."""
        key = content if needs_content(self.args) else None
        if key not in self._made:
            config = config_from(self.args, key, self.args.described)
            config.blend(1)  # one style per pair
            self._made[key] = config
        return self._made[key]

    def check(self, pairs: list[Pair]) -> TransferConfig:
        """Some pair's configuration, which every other pair's differs from at most in its size: a
        mistake in the options is refused here, before Ray starts. With --size N the first pair
        whose content can be read and whose size a run can have is used; the others fail alone."""
        failure: Optional[UserError] = None
        for pair in pairs if needs_content(self.args) else pairs[:1]:
            try:
                return self.get(preflight.picture_size(pair.content) if needs_content(self.args) else None)
            except ConfigError as exc:
                if exc.field != "size" or not needs_content(self.args):
                    raise  # the options', not this pair's
                failure = exc
            except UserError as exc:  # this content cannot be read: its pairs fail on their own
                failure = exc
        raise failure if failure is not None else UserError("batch.py has no pairs to make")
