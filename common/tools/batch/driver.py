"""The batch's driver: which pairs are left, one actor per worker, pairs dispatched as workers
come free, each result written and recorded in the manifest as it arrives, and Ctrl-C or
SIGTERM ending it with every finished pair kept. One driver at a time holds an ``--out`` folder."""
from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections import deque
from pathlib import Path
from typing import Optional

import numpy as np

from common.errors import UserError
from common.images import image_size

from ..cli.exits import DONE, INTERRUPTED
from ..cli.options import execution_from, in_flags
from ..io.pictures import load_rgb, save_image
from .manifest import Manifest, hold, options_key
from .pairs import Pair
from .plan import Configs, check
from .session import ray_session
from .worker import PairWorker, import_ray, worker_count, worker_env

SOME_FAILED = 1  # batch.py's own meaning of 1: every pair ran, some failed (see the manifest)


def run_batch(args: argparse.Namespace, prog: str) -> int:
    pairs, options = check(args)
    key = options_key(options)
    with hold(Path(args.out), prog):  # from reading the manifest to the last row written
        manifest = Manifest(Path(args.out))
        todo = [p for p in pairs if not manifest.done(manifest.key(p.content, p.style, key), p.output)]
        skipped = len(pairs) - len(todo)
        if not todo:
            print(f"{prog}: all {len(pairs)} pairs already done (manifest {manifest.path}{_damaged(manifest)}); "
                  f"nothing to do")
            return DONE
        ray = import_ray()
        with ray_session(ray, args.address, args.cpus):  # signals stay run_main's: Ray starts off the main thread
            return _run(ray, args, prog, todo, skipped, options, key, manifest)


def _damaged(manifest: Manifest, where: str = "in it") -> str:
    """The summary's word on the manifest's unreadable lines, if any."""
    return f"; {manifest.damaged} damaged lines {where} skipped" if manifest.damaged else ""


class _Tally:
    def __init__(self, total: int, skipped: int, damaged: str = "") -> None:
        from tqdm import tqdm

        self.done = self.failed = self.running = 0
        self.skipped, self.damaged, self.clock = skipped, damaged, time.perf_counter()
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
                f"{self.per_minute():.2f} pairs per minute{self.damaged}")


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
    tally = _Tally(len(todo), skipped, _damaged(manifest, "in the manifest"))
    queue, running = deque(todo), {}  # popleft: a list's pop(0) made queueing quadratic
    try:
        while queue or running:
            while idle and queue:
                pair = queue.popleft()
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
