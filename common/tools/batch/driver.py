"""The batch's driver: which pairs are left, one actor per worker, pairs dispatched as workers
come free, each result written and recorded in the manifest as it arrives, and Ctrl-C or
SIGTERM ending it with every finished pair kept."""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from common.config import TransferConfig
from common.errors import ConfigError, UserError
from common.images import image_size
from common.registry import load_backend

from ..cli import preflight
from ..cli.exits import DONE, INTERRUPTED
from ..cli.options import config_from, execution_from, in_flags, needs_content, real, whole
from ..cli.signals import Stop
from ..io.pictures import check_writable, load_rgb, save_image
from .manifest import Manifest, options_key
from .pairs import PAIRINGS, Pair, find_images, name_outputs, pair_up, read_pairs_csv
from .worker import PairWorker, import_ray, start_ray, worker_count, worker_env

SOME_FAILED = 1  # batch.py's own meaning of 1: every pair ran, some failed (see the manifest)

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


def plan(args: argparse.Namespace) -> list[Pair]:
    if args.pairs and (args.content or args.style):
        raise UserError("give --pairs FILE.csv or --content and --style, not both")
    if args.pairs:
        pairs = read_pairs_csv(args.pairs)
    else:
        if not args.content or not args.style:
            raise UserError("batch.py needs --content and --style (files or folders), or --pairs FILE.csv")
        pairs = pair_up(find_images(args.content, "content"), find_images(args.style, "style"), args.pairing,
                        args.count, args.pairing_seed)
    return name_outputs(pairs, Path(args.out))


def check(args: argparse.Namespace) -> tuple[list[Pair], dict[str, Any]]:
    """Everything cheap, before Ray starts: the options, the weights, the pairs, the configuration,
    the backend's framework, the output folder (made last)."""
    # A file is read and checked here, once, before any worker would fail on it; its network and
    # convention decide the layers and loss weights of every pair.
    args.described = preflight.check_batch(args)
    pairs = plan(args)
    Configs.of(args).check(pairs)
    preflight.check_backend(args, load_backend(args.backend), "batch.py")  # a missing framework: before Ray, not in every worker
    check_writable(Path(args.out) / "manifest.jsonl")
    options = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())
               if k not in NOT_OPTIONS and k not in ("described", "configs")}
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


def run_batch(args: argparse.Namespace, prog: str) -> int:
    pairs, options = check(args)
    key = options_key(options)
    manifest = Manifest(Path(args.out))
    todo = [p for p in pairs if not manifest.done(manifest.key(p.content, p.style, key), p.output)]
    skipped = len(pairs) - len(todo)
    if not todo:
        print(f"{prog}: all {len(pairs)} pairs already done (manifest {manifest.path}); nothing to do")
        return DONE
    ray = import_ray()
    start_ray(ray, args.address, args.cpus)
    try:
        # ray.init installs its own SIGTERM handler on the driver (it exits with status 15 and no
        # word): ours goes back on top, so SIGTERM ends the batch as Ctrl-C does.
        with Stop():
            return _run(ray, args, prog, todo, skipped, options, key, manifest)
    finally:
        ray.shutdown()


class _Tally:
    def __init__(self, total: int, skipped: int) -> None:
        from tqdm import tqdm

        self.done = self.failed = self.running = 0
        self.skipped, self.clock = skipped, time.perf_counter()
        self.bar = tqdm(total=total, unit="pair", file=sys.stderr, dynamic_ncols=True, disable=None)

    def per_minute(self) -> float:
        return (self.done + self.failed) / max(time.perf_counter() - self.clock, 1e-9) * 60

    def update(self, status: Optional[str] = None) -> None:
        if status is not None:
            setattr(self, status, getattr(self, status) + 1)
            self.bar.update(1)
        self.bar.set_postfix(done=self.done, failed=self.failed, running=self.running,
                             per_min=f"{self.per_minute():.2f}", refresh=True)

    def line(self, total: int) -> str:
        return (f"{total} pairs: {self.done} done, {self.failed} failed, {self.skipped} already done before; "
                f"{self.per_minute():.2f} pairs per minute")


def _run(ray, args, prog: str, todo: list[Pair], skipped: int, options: dict, key: str, manifest: Manifest) -> int:
    configs = Configs.of(args)
    last_layer = configs.check(todo).last_layer  # the same for every pair: the layers do not depend on the size
    execution = execution_from(args)
    actor = ray.remote(PairWorker).options(num_cpus=args.cpus_per_task, num_gpus=args.gpus_per_task,
                                           runtime_env={"env_vars": worker_env(args.cpus_per_task, not args.address)})
    live: set = set()  # every actor started and not yet killed, replacements included

    def new_worker():
        worker = actor.remote(args.backend, args.weights, args.seed, last_layer, args.device, execution,
                              args.max_memory, args.described.network.name, args.described.convention.name)
        live.add(worker)
        return worker

    def retire(worker) -> None:
        ray.kill(worker)
        live.discard(worker)

    count = min(len(todo), worker_count(ray, args.cpus_per_task, args.gpus_per_task, args.workers))
    idle = _ready([new_worker() for _ in range(count)], ray, retire, prog)
    tally = _Tally(len(todo), skipped)
    queue, running = list(todo), {}
    try:
        while queue or running:
            while idle and queue:
                pair = queue.pop(0)
                row, work = _dispatch(idle[-1], pair, configs, manifest, key, options)
                if work is None:  # the driver could not read it: failed without a worker
                    manifest.append(row)
                    tally.update("failed")
                    continue
                running[work] = (pair, idle.pop(), row)
            tally.running = len(running)
            tally.update()
            if not running:
                continue
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                pair, worker, row = running.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the worker died (killed, out of memory): replace it
                    result = {"status": "failed", "reason": f"the worker died: {_first_line(exc)}"}
                    retire(worker)
                    worker = new_worker()
                idle.append(worker)
                tally.update(_record(pair, result, row, manifest))
    except KeyboardInterrupt:
        tally.bar.close()
        for worker in list(live):
            retire(worker)
        print(f"{prog}: interrupted: {tally.line(len(todo) + skipped)}; the manifest {manifest.path} keeps them: "
              f"run the same command to do the rest", file=sys.stderr)
        return INTERRUPTED
    tally.bar.close()
    print(f"{prog}: {tally.line(len(todo) + skipped)}; manifest {manifest.path}")
    return DONE if tally.failed == 0 else SOME_FAILED


def _ready(workers: list, ray, retire, prog: str) -> list:
    """The workers that built their network; the others are stopped, each reason said once. None
    at all is one line and exit 2: every pair would fail the same way."""
    answers = []
    for worker in workers:
        try:
            answers.append(ray.get(worker.describe.remote()))
        except ray.exceptions.RayError as exc:  # died before it could say (killed, out of memory)
            answers.append({"failure": f"the worker died: {_first_line(exc)}"})
    failures = {answer["failure"] for answer in answers if "failure" in answer}
    for worker, answer in zip(workers, answers):
        if "failure" in answer:
            retire(worker)
    good = [worker for worker, answer in zip(workers, answers) if "failure" not in answer]
    if not good:
        raise UserError(f"no worker could build its network: {'; '.join(sorted(failures))}")
    for reason in sorted(failures):
        print(f"{prog}: warning: {len(workers) - len(good)} of {len(workers)} workers could not build their network "
              f"and were stopped: {reason}", file=sys.stderr)
    return good


def _dispatch(worker, pair: Pair, configs: Configs, manifest: Manifest, key: str, options: dict):
    row = {"content": str(pair.content), "content_sha256": manifest.sha256(pair.content),
           "style": str(pair.style), "style_sha256": manifest.sha256(pair.style), "options_key": key,
           "options": options, "output": str(pair.output)}
    try:
        content, style = load_rgb(pair.content), load_rgb(pair.style)
        config = configs.get(image_size(content))
    except UserError as exc:
        return {**row, "status": "failed", "reason": in_flags(exc), "seconds": 0.0, "finished": _now()}, None
    return row, worker.run.remote(content, style, config)


def _record(pair: Pair, result: dict, row: dict, manifest: Manifest) -> str:
    status = result["status"]
    if "image" in result:
        try:
            save_image(np.asarray(result["image"], np.float32) / 255.0, pair.output)
        except OSError as exc:
            status, result = "failed", {**result, "reason": f"cannot write {pair.output}: {exc.strerror or exc}"}
    fields = {k: result.get(k) for k in ("reason", "losses", "picture_loss", "seconds", "steps", "seconds_per_step",
                                          "worker")
              if result.get(k) is not None}
    manifest.append({**row, "status": status, **fields, "finished": _now()})
    return status


def _first_line(exc: BaseException) -> str:
    text = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    return text if len(text) <= 200 else text[:197] + "..."


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
