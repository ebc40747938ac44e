"""scripts/batch.py on a local Ray limited to 2 CPUs: four tiny pairs end done with pictures and
a manifest, a second run does no work, a corrupt image fails its own pair only, Ctrl-C keeps
what finished and the same command finishes the rest, each worker's framework runs as many
threads as its CPUs, and --address joins a running cluster.

Then "nothing lost", finding by finding: a rerun resumes exactly (another option set's picture
is another file), a half-written manifest line swallows no row, a damaged manifest is read
around, the output folder is never an input, one driver at a time holds --out, and a signal at
any moment while Ray starts ends in one line with nothing of Ray's left running."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from common.errors import UserError
from common.tools.batch.pairs import name_outputs, pair_up, read_pairs_csv

from ..conftest import require_module, synthetic_image

ROOT = Path(__file__).resolve().parents[2]
BATCH = ROOT / "scripts" / "batch.py"
TINY = ["--size", "32", "48", "--steps", "2", "--weights", "random", "--device", "cpu"]


@pytest.fixture
def collection(tmp_path):
    for folder, seeds, size in (("photos", (1, 2), (40, 56)), ("paintings", (5, 6), (36, 36))):
        (tmp_path / folder).mkdir()
        for seed in seeds:
            image = (synthetic_image(seed, size) * 255).astype(np.uint8)
            Image.fromarray(image).save(tmp_path / folder / f"{folder[0]}{seed}.png")
    return tmp_path


def batch(*args, cwd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(BATCH), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, **kwargs)


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]


def test_every_pair_ends_once_and_a_corrupt_image_fails_its_own_pairs_only(collection):
    require_module("ray")
    (collection / "photos" / "p9.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = collection / "out"
    first = batch("--content", collection / "photos", "--style", collection / "paintings", "--out", out,
                  "--cpus", 2, *TINY, cwd=collection)
    assert first.returncode == 1, first.stderr  # 1: every pair ran, some failed
    rows = manifest(out)
    done = [r for r in rows if r["status"] == "done"]
    failed = [r for r in rows if r["status"] == "failed"]
    key = done[0]["options_key"][:8]  # the output's name carries the options' key
    assert {Path(r["output"]).name for r in done} == {f"p1__p5.{key}.png", f"p1__p6.{key}.png", f"p2__p5.{key}.png",
                                                     f"p2__p6.{key}.png"}
    assert len(failed) == 2 and all(r["content"].endswith("p9.png") and "p9.png" in r["reason"]
                                    and "\n" not in r["reason"] for r in failed)
    for row in done:
        assert Image.open(row["output"]).size == (48, 32)
        assert len(row["content_sha256"]) == 64 and row["options"]["steps"] == 2 and row["steps"] == 2
        assert row["picture_loss"]["total"] > 0 and row["losses"]["total"] > 0 and row["seconds"] > 0
    assert "4 done, 2 failed" in first.stdout
    times = {r["output"]: os.stat(r["output"]).st_mtime_ns for r in done}

    (collection / "photos" / "p9.png").unlink()  # the same command again: what is done stays done
    again = batch("--content", collection / "photos", "--style", collection / "paintings", "--out", out,
                  "--cpus", 2, *TINY, cwd=collection)
    assert again.returncode == 0 and "nothing to do" in again.stdout
    assert len(manifest(out)) == 6 and {p: os.stat(p).st_mtime_ns for p in times} == times


def test_a_pair_counts_as_done_for_the_same_inputs_options_and_an_existing_picture(collection):
    """What the manifest decides (a changed option or image runs the pair again), without Ray."""
    from common.tools.batch.manifest import Manifest, options_key

    out = collection / "out"
    content, style = collection / "photos" / "p1.png", collection / "paintings" / "p5.png"
    picture = out / "p1__p5.png"
    key = options_key({"steps": 2})
    first = Manifest(out)
    row = {"content_sha256": first.sha256(content), "style_sha256": first.sha256(style), "options_key": key,
           "status": "done", "output": str(picture)}
    first.append(row)
    out.mkdir(exist_ok=True)
    picture.write_bytes(b"a picture")
    later = Manifest(out)  # as the next run reads it
    assert later.done(later.key(content, style, key), picture)
    assert not later.done(later.key(content, style, options_key({"steps": 3})), picture)  # another option
    assert not later.done(later.key(collection / "photos" / "p2.png", style, key), picture)  # another image
    picture.unlink()
    assert not later.done(later.key(content, style, key), picture)  # its picture is gone
    picture.write_bytes(b"a picture")
    (out / "manifest.jsonl").write_text((out / "manifest.jsonl").read_text() + '{"cut sho')  # a crash mid-line
    assert Manifest(out).done(later.key(content, style, key), picture)  # the whole lines still count


def test_sigterm_keeps_the_finished_pairs(collection):
    """SIGTERM ends a batch as Ctrl-C does: exit 130, one line, the finished pairs in the manifest.
    ray.init installs its own SIGTERM handler on the driver, which used to exit 15 with no word."""
    require_module("ray")
    out = collection / "out"
    args = ["--content", collection / "photos", "--style", collection / "paintings", "--out", out, "--cpus", 2,
            "--workers", 1, "--size", 32, 48, "--steps", 25, "--weights", "random", "--device", "cpu"]
    proc = subprocess.Popen([sys.executable, str(BATCH), *map(str, args)], cwd=collection,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ((out / "manifest.jsonl").exists() and manifest(out)) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr.splitlines()[-1] and "Traceback" not in stderr
    assert 1 <= len(manifest(out)) < 4 and "run the same command to do the rest" in stderr


def test_a_workers_framework_runs_as_many_threads_as_its_cpus(monkeypatch):
    """One CPU per worker: fewer than either framework takes by default (every core), so a count
    that was not applied shows."""
    ray = require_module("ray")
    from common.execution import Execution
    from common.registry import available, backend_names
    from common.tools.batch.worker import PairWorker, worker_env

    names = [name for name in backend_names() if available(name)[0]]
    for name in ("RAY_AUTH_MODE", "PYTHONBREAKPOINT", "RAY_USAGE_STATS_ENABLED"):  # ray.init sets them here
        monkeypatch.setenv(name, os.environ.get(name, ""))
        if not os.environ[name]:
            monkeypatch.delenv(name)
    ray.init(address="local", num_cpus=3 * len(names), include_dashboard=False, log_to_driver=False)
    try:
        asked = {(name, cpus): ray.remote(PairWorker).options(num_cpus=cpus, runtime_env={"env_vars": worker_env(cpus, local=True)})
                 .remote(name, "random", 0, 1, "cpu", Execution()) for name in names for cpus in (1,)}
        described = {key: ray.get(worker.describe.remote()) for key, worker in asked.items()}
    finally:
        ray.shutdown()
    for (name, cpus), answer in described.items():
        assert answer["threads"] == str(cpus), (name, answer)  # the framework's own count, asked inside the worker
        assert answer["pid"] != os.getpid()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def cluster(tmp_path):
    """A Ray head of our own (``ray start --block``), stopped by signalling that one command: it
    stops its own processes and no other Ray on the machine (``ray stop`` would stop them all).
    Its nodes have a PYTHONPATH of their own, as a cluster's would."""
    ray_cli = Path(sys.executable).with_name("ray")
    port = _free_port()
    node_path = os.pathsep.join([str(tmp_path / "node-site"), str(ROOT)])
    # Token authentication off: Ray 2.5x turns it on for a head started so, and a driver given an
    # address does not look for the token; this cluster listens on this machine only.
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONPATH=node_path)
    head = subprocess.Popen([str(ray_cli), "start", "--head", "--block", "--num-cpus", "2", "--port", str(port),
                             "--include-dashboard=false", "--disable-usage-stats"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # ready once it answers
            ready = subprocess.run([str(ray_cli), "status", "--address", address], capture_output=True, timeout=60,
                                   env=env)
            if ready.returncode == 0:
                break
            assert head.poll() is None, f"ray start --head ended: {head.stderr.read()[-2000:]}"
            time.sleep(1)
        yield address, node_path
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=120)
        # Ray leaves the stopped head's address behind, where a later plain ray.init() would try it.
        latest = Path("/tmp/ray/ray_current_cluster")
        if latest.is_file() and latest.read_text().strip().endswith(f":{port}"):
            latest.unlink()


def test_address_joins_a_running_cluster_and_leaves_its_nodes_pythonpath(collection, cluster, monkeypatch):
    ray = require_module("ray")
    from common.tools.batch.worker import worker_env

    address, node_path = cluster
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled", PYTHONPATH="/the/driver/s/own/path")
    proc = batch("--content", collection / "photos" / "p1.png", "--style", collection / "paintings",
                 "--out", collection / "out", "--address", address, *TINY, cwd=collection, env=env)
    assert proc.returncode == 0, proc.stderr
    assert {r["status"] for r in manifest(collection / "out")} == {"done"} and "2 done" in proc.stdout
    # What a worker on a cluster node sees, under the environment the driver gives its workers:
    # the node's own PYTHONPATH (the driver's checkout path used to replace it).
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    try:
        seen = ray.get(ray.remote(lambda: os.environ.get("PYTHONPATH")).options(
            runtime_env={"env_vars": worker_env(1, local=False)}).remote())
    finally:
        ray.shutdown()
    assert seen == node_path


def test_a_worker_that_cannot_build_its_network_says_why_once(collection, monkeypatch):
    """Weights the driver names but a worker's node cannot have (here: offline, nothing cached).
    Such a worker used to fail every pair as an opaque "worker died"."""
    from common.config import TransferConfig
    from common.execution import Execution
    from common.tools.batch.driver import _ready
    from common.tools.batch.worker import PairWorker

    cache = collection / "empty-cache"
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(cache))
    monkeypatch.setenv("TORCH_HOME", str(cache / "torch"))
    worker = PairWorker("torch", "imagenet", 0, 29, "cpu", Execution())
    reason = worker.describe()["failure"]
    assert "cannot download torchvision's VGG-19 weights" in reason and "\n" not in reason
    result = worker.run(synthetic_image(1, (32, 48)), synthetic_image(2, (32, 32)), TransferConfig(size=(32, 48)))
    assert result["status"] == "failed" and reason in result["reason"]

    class Ray:  # the driver's side, with the two calls it makes of Ray
        class exceptions:
            RayError = RuntimeError

        @staticmethod
        def get(answer):
            return answer

    class Handle:  # an actor handle: describe.remote() gives what ray.get returns
        def __init__(self, worker):
            self.describe = type("Method", (), {"remote": staticmethod(worker.describe)})

    retired = []
    with pytest.raises(UserError, match="no worker could build its network: cannot download"):
        _ready([Handle(worker), Handle(worker)], Ray, retired.append, "batch.py")
    assert len(retired) == 2  # both stopped


class FakeRay:
    """The calls the driver makes of Ray, played out: the first task's worker dies, and Ctrl-C
    comes while the driver waits for the next result."""

    class exceptions:
        class RayError(Exception):
            pass

    def __init__(self):
        self.actors, self.killed, self.waits = [], set(), 0

    def remote(self, cls):
        ray = self

        class Actor:
            @staticmethod
            def options(**kwargs):
                return Actor

            @staticmethod
            def remote(*args):
                handle = type("Handle", (), {})()
                handle.describe = type("M", (), {"remote": staticmethod(lambda: {"pid": len(ray.actors)})})
                handle.run = type("M", (), {"remote": staticmethod(lambda *a: (handle, "result"))})
                ray.actors.append(handle)
                return handle
        return Actor

    def wait(self, refs, num_returns):
        self.waits += 1
        if self.waits == 2:
            raise KeyboardInterrupt
        first = next(ref for ref in refs if ref[0] is self.actors[0])  # the worker that dies
        return [first], [ref for ref in refs if ref is not first]

    def get(self, ref):
        if isinstance(ref, dict):
            return ref
        handle, _ = ref
        if handle is self.actors[0]:
            raise self.exceptions.RayError("The actor died unexpectedly")
        return {"status": "done"}

    def kill(self, handle):
        self.killed.add(handle)


def test_ctrl_c_stops_every_worker_replacements_included(collection, capsys):
    """A worker that died is replaced; on Ctrl-C the replacement was left running (only the first
    workers were stopped)."""
    from common.tools.batch.driver import _run
    from common.tools.batch.main import build_parser
    from common.tools.batch.manifest import Manifest
    from common.tools.batch.pairs import name_outputs
    from common.tools.io.weights import described

    args = build_parser().parse_args(["--content", str(collection / "photos"), "--style", str(collection / "paintings"),
                                      "--out", str(collection / "out"), "--workers", "2", *TINY])
    args.described = described(args.weights, args.network, args.seed, args.weights_convention)  # as the driver does
    photos, paintings = sorted((collection / "photos").iterdir()), sorted((collection / "paintings").iterdir())
    pairs = name_outputs([(c, s) for c in photos for s in paintings], collection / "out")
    ray = FakeRay()
    assert _run(ray, args, "batch.py", pairs, 0, {}, "key", Manifest(collection / "out")) == 130
    assert len(ray.actors) == 3  # two workers and the first one's replacement
    assert ray.killed == set(ray.actors)
    assert "interrupted" in capsys.readouterr().err


def test_each_pair_gets_the_memory_check_run_py_makes():
    """A worker refuses, in one line, a pair estimated to need more memory than it may use."""
    from common.config import TransferConfig
    from common.execution import Execution
    from common.tools.batch.worker import PairWorker

    worker = PairWorker("torch", "random", 0, 29, "cpu", Execution(), max_memory=0.3)
    result = worker.run(synthetic_image(1, (40, 60)), synthetic_image(2, (40, 40)), TransferConfig(size=(32, 48)))
    assert result["status"] == "failed" and "\n" not in result["reason"]
    assert "--size 32 48 needs about" in result["reason"] and "more than --max-memory 0.3" in result["reason"]


@pytest.mark.parametrize("args, words", [
    (["--content", "{c}/photos", "--style", "{c}/empty"], "holds no image files"),
    (["--content", "{c}/nothing", "--style", "{c}/paintings"], "no such file or folder"),
    (["--content", "{c}/photos", "--style", "{c}/paintings/p5.png", "--pairing", "zip"], "as many styles"),
    (["--content", "{c}/photos", "--style", "{c}/paintings", "--pairing", "random", "--count", "5"], "between 1 and 4"),
    (["--pairs", "{c}/none.csv"], "no such file"),
    (["--content", "{c}/photos"], "needs --content and --style"),
    (["--content", "{c}/photos", "--style", "{c}/paintings", "--cpus-per-task", "0"], "both 0"),
    (["--content", "{c}/photos", "--style", "{c}/paintings", "--workers", "0"], "--workers"),
    (["--content", "{c}/photos", "--style", "{c}/paintings", "--lr", "-1"], "lr"),
    (["--content", "{c}/photos", "--style", "{c}/paintings", "--weights", "{c}/none.npz"], "no such file"),
])
def test_bad_input_is_one_line_before_ray_starts(collection, args, words):
    (collection / "empty").mkdir()
    argv = [*TINY, "--out", str(collection / "out")] + [a.format(c=collection) for a in args]
    proc = batch(*argv, cwd=collection)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr
    assert not (collection / "out" / "manifest.jsonl").exists()


def test_pairing_rules_and_csv(tmp_path):
    contents, styles = [Path(f"c{i}.png") for i in range(3)], [Path(f"s{i}.png") for i in range(2)]
    assert len(pair_up(contents, styles, "all")) == 6
    assert pair_up(contents[:2], styles, "zip") == [(contents[0], styles[0]), (contents[1], styles[1])]
    drawn = pair_up(contents, styles, "random", 4, seed=1)
    assert len(set(drawn)) == 4 and drawn == pair_up(contents, styles, "random", 4, seed=1)
    assert len({tuple(pair_up(contents, styles, "random", 4, seed=s)) for s in range(10)}) > 1
    for path in ("a/x.png", "b/x.png", "y.png"):
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    (tmp_path / "pairs.csv").write_text("content,style\na/x.png,y.png\nb/x.png,y.png\n")
    pairs = read_pairs_csv(str(tmp_path / "pairs.csv"))
    assert pairs == [(tmp_path / "a/x.png", tmp_path / "y.png"), (tmp_path / "b/x.png", tmp_path / "y.png")]
    names = [p.output.name for p in name_outputs(pairs, tmp_path)]
    assert len(set(names)) == 2 and all(n.startswith("x__y-") for n in names)  # same stems: told apart
    with pytest.raises(UserError, match="listed twice"):
        name_outputs(pairs[:1] * 2, tmp_path)


# --- Nothing lost: a rerun resumes exactly ----------------------------------------------------

def test_a_rerun_with_the_old_options_finds_its_own_picture_again(collection):
    """--steps 2, --steps 3, --steps 2: the last found nothing to do and handed back the --steps 3
    picture, written over the --steps 2 one (one name for every option set)."""
    require_module("ray")
    out = collection / "out"
    one = ["--content", collection / "photos" / "p1.png", "--style", collection / "paintings" / "p5.png", "--out", out,
           "--cpus", 2, "--size", 32, 48, "--weights", "random", "--device", "cpu"]
    pictures = {}
    for steps in (2, 3):
        proc = batch(*one, "--steps", steps, cwd=collection)
        assert proc.returncode == 0, proc.stderr
        (row,) = [r for r in manifest(out) if r["options"]["steps"] == steps]
        pictures[steps] = (Path(row["output"]), Path(row["output"]).read_bytes())
    assert pictures[2][0] != pictures[3][0] and pictures[2][1] != pictures[3][1]  # two files, two pictures
    again = batch(*one, "--steps", 2, cwd=collection)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stderr
    assert {path.read_bytes() for path, _ in pictures.values()} == {data for _, data in pictures.values()}


def test_what_shapes_the_picture_is_in_its_key_and_where_it_runs_is_not(collection, tmp_path):
    from common.tools.batch.main import build_parser
    from common.tools.batch.plan import check
    from common.tools.cli.recipes import with_recipe

    def outputs(*extra):
        argv = ["--content", str(collection / "photos" / "p1.png"), "--style", str(collection / "paintings" / "p5.png"),
                "--out", str(tmp_path / "out"), *TINY, *map(str, extra)]
        (pair,), options = check(with_recipe(build_parser(), argv).parse_args(argv))  # as main() parses
        return pair.output.name

    plain = outputs()
    assert outputs("--workers", 3, "--cpus", 1) == plain  # where it runs: the same picture
    assert len({plain, outputs("--lr", 0.5), outputs("--seed", 1), outputs("--recipe", "fast")}) == 4
    weights = tmp_path / "w.npz"
    from common.tools.io.weights import load_weights, save_npz
    save_npz(load_weights("random", None, 0, None), weights)
    from_file = outputs("--weights", weights)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "w.npz").write_bytes(weights.read_bytes())
    assert outputs("--weights", tmp_path / "elsewhere" / "w.npz") == from_file  # the same bytes elsewhere
    save_npz(load_weights("random", None, 1, None), weights)  # another file at the same path
    assert len({plain, from_file, outputs("--weights", weights)}) == 3


# --- Nothing lost: the manifest ---------------------------------------------------------------

def _row(manifest_, content, style, output, key="k" * 16, status="done"):
    return {"content_sha256": manifest_.sha256(content), "style_sha256": manifest_.sha256(style),
            "options_key": key, "status": status, "output": str(output)}


def test_a_half_written_line_swallows_no_row(collection):
    """The next row used to be appended onto the broken line, and both were lost."""
    from common.tools.batch.manifest import Manifest

    out = collection / "out"
    out.mkdir()
    content, style = collection / "photos" / "p1.png", collection / "paintings" / "p5.png"
    (out / "manifest.jsonl").write_text('{"content": "cut short by a cra')
    first = Manifest(out)
    picture = out / "p1__p5.png"
    picture.write_bytes(b"a picture")
    first.append(_row(first, content, style, picture))
    later = Manifest(out)
    assert later.done(later.key(content, style, "k" * 16), picture)
    assert later.damaged == 1 and (out / "manifest.jsonl").read_bytes().endswith(b"}\n")


@pytest.mark.parametrize("damage", [
    b'{"content_sha256": ["a list"], "style_sha256": "s", "options_key": "k", "status": "done"}',
    b'\xff\xfe not text',
    b'{"status": "done", "content_sha256": "c", "style_sha256": "s", "options_key": {"a": 1}}',
    b'[1, 2]',
    b'[' * 100000,
], ids=["a list for a hash", "not UTF-8", "a dict for the key", "not an object", "nested past the limit"])
def test_a_damaged_manifest_is_read_around_in_one_line(collection, damage):
    """Each was a traceback (exit 1): unhashable type, UnicodeDecodeError, ..."""
    from common.tools.batch.main import build_parser
    from common.tools.batch.manifest import Manifest, options_key
    from common.tools.batch.plan import check

    out = collection / "out"
    argv = ["--content", str(collection / "photos" / "p1.png"), "--style", str(collection / "paintings" / "p5.png"),
            "--out", str(out), *TINY]
    (pair,), options = check(build_parser().parse_args(argv))  # the output and key the command will look for
    made = Manifest(out)
    made.append(_row(made, pair.content, pair.style, pair.output, options_key(options)))
    pair.output.write_bytes(b"a picture")
    with open(out / "manifest.jsonl", "ab") as f:
        f.write(damage + b"\n" + damage)
    proc = batch(*argv, cwd=collection)  # every pair done: no Ray starts
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "nothing to do" in proc.stdout and "2 damaged lines in it skipped" in proc.stdout


# --- Nothing lost: the output folder ----------------------------------------------------------

def test_the_output_folder_is_never_an_input(collection):
    """--out in a content folder used to make the pictures the next run's contents
    (p1__p5__p5.png)."""
    from common.tools.batch.pairs import find_images

    for args in (["--content", "{c}/photos", "--style", "{c}/paintings", "--out", "{c}/photos"],
                 ["--content", "{c}/photos/p1.png", "--style", "{c}/paintings", "--out", "{c}/photos/"],
                 ["--content", "{c}/photos", "--style", "{c}/paintings/../paintings", "--out", "{c}/paintings"]):
        proc = batch(*TINY, *[a.format(c=collection) for a in args], cwd=collection)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "the --out folder" in lines[0], proc.stderr
    (collection / "pairs.csv").write_text("photos/p1.png,paintings/p5.png\n")
    proc = batch(*TINY, "--pairs", collection / "pairs.csv", "--out", collection / "paintings", cwd=collection)
    assert proc.returncode == 2 and "is in the --out folder" in proc.stderr
    inside = collection / "photos" / "stylized"  # --out inside a content folder: never listed
    inside.mkdir()
    Image.new("RGB", (8, 8)).save(inside / "p1__p5.abcd1234.png")
    assert find_images([str(collection / "photos")], "content", inside) == sorted((collection / "photos").glob("*.png"))


def test_naming_many_pairs_gives_the_names_of_the_pair_by_pair_rule(tmp_path):
    """The names, now counted in one pass (list.count per pair was quadratic)."""
    contents = [Path(f"a/c{i}.png") for i in range(30)] + [Path("b/c0.png")]
    styles = [Path(f"s{i}.png") for i in range(20)]
    named = name_outputs(pair_up(contents, styles, "all"), tmp_path, "key")
    stems = [f"{c.stem}__{s.stem}" for c in contents for s in styles]
    for pair, stem in zip(named, stems):
        told_apart = stems.count(stem) > 1
        assert pair.output.name.startswith(stem + ("-" if told_apart else ".key"))
        assert pair.output.name.endswith(".key.png")


def test_one_driver_at_a_time_holds_an_out_folder(collection):
    """Two drivers on the same --out both ran every pair."""
    from filelock import FileLock

    out = collection / "out"
    out.mkdir()
    with FileLock(str(out / ".batch.lock")):  # as the first driver holds it
        proc = batch("--content", collection / "photos", "--style", collection / "paintings", "--out", out, *TINY,
                     cwd=collection)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "in use by another batch.py" in lines[0], proc.stderr
    assert not (out / "manifest.jsonl").exists()


# --- Nothing lost: a signal while Ray starts --------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_ray_starts_is_one_line_and_leaves_nothing_running(collection, signum):
    """SIGTERM used to exit 15 with no word; either signal left Ray's dashboard and runtime-env
    agents running under PID 1 (they ignore SIGTERM)."""
    require_module("ray")
    tag = uuid.uuid4().hex  # every process the child starts inherits it
    proc = subprocess.Popen([sys.executable, str(BATCH), "--content", str(collection / "photos"), "--style",
                             str(collection / "paintings"), "--out", str(collection / "out"), "--cpus", "2", *TINY],
                            cwd=collection, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, STYLE_TRANSFER_TEST_TAG=tag))
    seen: dict = {}  # (pid, start time) -> process, every descendant of the child while it ran
    try:
        child, signalled, deadline = psutil.Process(proc.pid), False, time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                for p in child.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        seen.setdefault((p.pid, p.create_time()), p)
                        # Ray is starting: its raylet is up and starting its agents (the moment they
                        # were left behind; a signal before the raylet left nothing)
                        if not signalled and p.name() == "raylet":
                            proc.send_signal(signum)
                            signalled = True
            time.sleep(0.02)
        _, stderr = proc.communicate(timeout=60)
        assert signalled, f"Ray never started: {stderr[-2000:]}"
        assert proc.returncode == 130, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and "interrupted" in lines[0], stderr
        deadline = time.monotonic() + 20
        while _alive(seen, tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(seen, tag)
    finally:
        for p in _alive(seen, tag):  # never leave them to the next test
            with contextlib.suppress(psutil.Error):
                p.kill()
        if proc.poll() is None:
            proc.kill()


def _alive(seen: dict, tag: str) -> list:
    """What still runs of the recorded descendants, and of every process carrying ``tag``."""
    left = {}
    for p in seen.values():
        with contextlib.suppress(psutil.Error):
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                left[p.pid] = p
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if p.environ().get("STYLE_TRANSFER_TEST_TAG") == tag and p.status() != psutil.STATUS_ZOMBIE:
                left[p.pid] = p
    return list(left.values())
