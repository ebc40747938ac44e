"""The memory check's behaviour, never this machine's bytes: it refuses what cannot fit in one
line naming the largest size that fits, accepts what fits, needs more for more pixels and larger
styles, orders its sizes by budget, says its GPU figure is assumed, honours --max-memory, and
reads MemAvailable and a cgroup's limit (from fake files). Plus MXNet's one statically
allocated block."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import psutil
import pytest

from common.config import MIN_SIDE, TransferConfig
from common.errors import UserError
from common.images import fit_long_edge
from common.registry import load_backend
from common.tools.cli import memory
from common.tools.cli.memory import TABLE, check_memory, check_fits, estimate_gib, largest_fitting

from ..conftest import require, weights

ROWS = sorted(TABLE)  # (backend, optimizer, precision)
OPTIONS = [dict(zip(("optimizer", "precision"), row[1:])) for row in ROWS]


def _suggested(message: str) -> list[int]:
    return [int(v) for v in re.search(r"the largest that fits is --size (\d+)(?: (\d+))?", message).groups() if v]


# -- refuses what cannot fit, accepts what fits ---------------------------------------------
@pytest.mark.parametrize("row", ROWS)
def test_a_run_too_large_is_refused_in_one_line_naming_the_long_edge_that_fits(row):
    name, options = row[0], dict(optimizer=row[1], precision=row[2])
    content = (2000, 3000)  # --size N keeps the content's shape
    size = fit_long_edge(content, 1800)
    budget = 0.6 * estimate_gib(name, size, **options)
    with pytest.raises(UserError) as caught:
        check_memory(name, size, max_memory=budget, size_spec=[1800], content_size=content, **options)
    message = str(caught.value)
    assert "\n" not in message and message.startswith("--size 1800 needs about"), message
    (edge,) = _suggested(message)
    assert estimate_gib(name, fit_long_edge(content, edge), **options) <= budget
    assert estimate_gib(name, fit_long_edge(content, edge + 1), **options) > budget


def test_the_refusal_speaks_in_height_and_width_when_both_were_given():
    size = (700, 1300)
    budget = 0.5 * estimate_gib("torch", size, optimizer="lbfgs")
    with pytest.raises(UserError) as caught:
        check_memory("torch", size, optimizer="lbfgs", max_memory=budget, size_spec=[700, 1300])
    height, width = _suggested(str(caught.value))
    assert str(caught.value).startswith("--size 700 1300 needs about")
    assert estimate_gib("torch", (height, width), optimizer="lbfgs") <= budget
    assert estimate_gib("torch", fit_long_edge(size, width + 1), optimizer="lbfgs") > budget


@pytest.mark.parametrize("row", ROWS)
def test_what_fits_is_accepted_and_its_estimate_returned(row, monkeypatch):
    name, options = row[0], dict(optimizer=row[1], precision=row[2])
    needed = estimate_gib(name, (600, 900), **options)
    assert check_memory(name, (600, 900), max_memory=needed, **options) == needed  # exactly the budget fits
    monkeypatch.setattr(memory, "available_gib", lambda backend, device="cpu": needed * 1.01)
    assert check_memory(name, (600, 900), **options) == needed


def test_a_budget_below_the_smallest_run_says_nothing_fits():
    with pytest.raises(UserError, match="not even the smallest size fits"):
        check_memory("torch", (300, 450), max_memory=0.01)


def test_nothing_is_refused_without_a_row_or_a_reading(monkeypatch):
    assert check_memory("some-new-backend", (4000, 6000), max_memory=0.1) is None
    assert check_memory("mxnet", (4000, 6000), precision="bf16", max_memory=0.1) is None  # MXNet has no bf16
    monkeypatch.setattr(memory, "available_gib", lambda backend, device="cpu": None)
    assert check_memory("torch", (4000, 6000)) == estimate_gib("torch", (4000, 6000))


# -- the estimate: more pixels, larger styles ------------------------------------------------
@pytest.mark.parametrize("row", ROWS)
def test_the_estimate_grows_with_the_pixels(row):
    options = dict(optimizer=row[1], precision=row[2])
    for device in ("cpu", "gpu"):
        needs = [estimate_gib(row[0], fit_long_edge((2, 3), edge), device=device, **options)
                 for edge in (48, 100, 300, 900, 2000, 5000)]
        assert all(a < b for a, b in zip(needs, needs[1:])), (device, needs)


@pytest.mark.parametrize("row", ROWS)
def test_a_larger_style_needs_more(row):
    options = dict(optimizer=row[1], precision=row[2])
    needs = [estimate_gib(row[0], (300, 450), style_ratio=ratio, **options) for ratio in (1, 4, 9, 16, 64)]
    assert all(a <= b for a, b in zip(needs, needs[1:])) and needs[-1] > needs[0], needs


@dataclass
class FakeBackend:
    """What check_fits asks of a backend class: its name."""
    name: str = "mxnet"


@pytest.fixture
def gpu(monkeypatch):
    """A framework that can (``gpu.usable = True``) or cannot use a GPU, with ``gpu.free`` GiB free on it."""
    state = type("Gpu", (), {"usable": False, "free": None, "asked": []})()
    tools = type("Tools", (), {"gpu_status": staticmethod(lambda: type("Status", (), {"usable": state.usable})())})
    monkeypatch.setattr("common.registry.framework_tools", lambda name: tools)
    monkeypatch.setattr("common.registry.free_gpu_memory_gib", lambda name: state.asked.append(name) or state.free,
                        raising=False)
    return state


def test_check_fits_counts_the_style_scale(monkeypatch, gpu):
    """--style-scale 4 makes each style 16 times the result's pixels: its forward pass is counted."""
    monkeypatch.setattr(memory, "available_gib", lambda backend, device="cpu": None)
    content, style = np.zeros((200, 300, 3), np.float32), np.zeros((200, 300, 3), np.float32)
    # device "auto" with no usable GPU: the CPU's figures
    plain = check_fits(FakeBackend(), TransferConfig(size=(200, 300)), content, [style])
    scaled = check_fits(FakeBackend(), TransferConfig(size=(200, 300), style_scale=4.0), content, [style])
    assert scaled == estimate_gib("mxnet", (200, 300), style_ratio=16.0) > plain


# -- the inverse: the largest size that fits, ordered by budget -------------------------------
@pytest.mark.parametrize("aspect", [(300, 450), (1000, 400), (512, 512)])
@pytest.mark.parametrize("row", ROWS)
def test_the_largest_size_that_fits_grows_with_the_budget(row, aspect):
    options = dict(optimizer=row[1], precision=row[2])
    smallest = estimate_gib(row[0], fit_long_edge(aspect, max(aspect) * MIN_SIDE / min(aspect)), **options)
    assert largest_fitting(row[0], aspect, smallest * 0.9, **options) is None
    found = [largest_fitting(row[0], aspect, budget, **options) for budget in (1.0, 1.5, 2, 4, 8, 16, 64)]
    edges = [max(f) for f in found if f is not None]
    assert edges == sorted(edges) and len(set(edges)) == len(edges), found
    for budget, shape in zip((1.0, 1.5, 2, 4, 8, 16, 64), found):
        if shape is None:
            continue
        assert abs(shape[0] / shape[1] - aspect[0] / aspect[1]) < 0.05 and min(shape) >= MIN_SIDE
        assert estimate_gib(row[0], shape, **options) <= budget
        assert estimate_gib(row[0], fit_long_edge(aspect, max(shape) + 1), **options) > budget


# -- --max-memory, the GPU ------------------------------------------------------------------
def test_max_memory_is_honoured_over_what_is_free(monkeypatch):
    needed = estimate_gib("mxnet", (600, 900))
    monkeypatch.setattr(memory, "available_gib", lambda backend, device="cpu": needed / 2)
    with pytest.raises(UserError, match=r"GiB is free: the largest that fits .*\(or pass --max-memory\)$"):
        check_memory("mxnet", (600, 900))
    assert check_memory("mxnet", (600, 900), max_memory=needed * 1.01) == needed  # more than is free: allowed
    monkeypatch.setattr(memory, "available_gib", lambda backend, device="cpu": needed * 100)
    with pytest.raises(UserError, match=r"more than --max-memory"):
        check_memory("mxnet", (600, 900), max_memory=needed * 0.99)  # less than is free: refused


def test_on_a_gpu_the_framework_is_asked_and_the_refusal_says_the_figure_is_assumed(gpu):
    gpu.usable, gpu.free = True, 0.75
    assert memory.available_gib("torch", "gpu") == 0.75 and gpu.asked == ["torch"]
    with pytest.raises(UserError) as caught:
        check_fits(FakeBackend("torch"), TransferConfig(size=(1200, 1800)), np.zeros((1200, 1800, 3), np.float32),
                  [np.zeros((64, 64, 3), np.float32)])  # device auto: the GPU the framework can use
    message = str(caught.value)
    assert "GiB on the GPU (torch, adam, fp32; assumed" in message and "0.8 GiB is free on the GPU" in message
    assert "\n" not in message
    # the GPU's figure is the assumed one: at the smallest size, its assumed base and little more
    assert memory.GPU_BASE_GIB <= estimate_gib("torch", (32, 48), device="gpu") < memory.GPU_BASE_GIB + 0.01
    # and on the CPU nothing is said to be assumed
    with pytest.raises(UserError) as caught:
        check_memory("torch", (1200, 1800), max_memory=0.75)
    assert "assumed" not in str(caught.value)


# -- bench.py memory's reduction, on made-up peaks -------------------------------------------
def test_the_printed_table_lies_on_or_above_every_peak_it_was_made_of():
    """A line plus a bend in the middle (as MXNet's peak bends): the rows bench.py memory prints
    put no peak above the check's estimate, and find a straight line's slope and base."""
    from common.tools.bench.memory import table_text

    def peak(name, size, gib, style_scale=1.0):
        style = fit_long_edge(size, style_scale * max(size))
        return {"backend": name, "optimizer": "adam", "precision": "fp32", "size": list(size), "pixels": size[0] * size[1],
                "style_scale": style_scale, "style_pixels": style[0] * style[1], "peak_gib": gib}

    sizes = [(200, 300), (300, 450), (600, 900)]
    points = [peak("line", s, 0.5 + 3000 * s[0] * s[1] / 2**30) for s in sizes]
    points += [peak("bent", s, 0.5 + 3000 * s[0] * s[1] / 2**30 + (0.2 if s == (300, 450) else 0)) for s in sizes]
    points += [peak(n, (200, 300), 2.0, style_scale=4.0) for n in ("line", "bent")]
    rows = eval(table_text(points).split(" = ", 1)[1])  # noqa: S307 - the text it prints to paste
    base, per_pixel, _ = rows[("line", "adam", "fp32")]
    assert abs(base - 0.5) <= 0.001 and abs(per_pixel - 3000) <= 1
    for p in points:
        base, per_pixel, per_style = rows[(p["backend"], "adam", "fp32")]
        assert base + max(per_pixel * p["pixels"], per_style * p["style_pixels"]) / 2**30 >= p["peak_gib"] - 1e-9, p


# -- what is free, from fake files -----------------------------------------------------------
def test_mem_available_is_read(tmp_path, monkeypatch):
    (tmp_path / "meminfo").write_text("".join(f"{k}: {v} kB\n" for k, v in (
        ("MemTotal", 16 * 2**20), ("MemFree", 2**20), ("MemAvailable", 3 * 2**20), ("Buffers", 0), ("Cached", 0),
        ("Shmem", 0), ("Active", 0), ("Inactive", 0))))
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(tmp_path))  # psutil reads {PROCFS_PATH}/meminfo
    monkeypatch.setattr(memory, "cgroup_headroom_gib", lambda: None)
    assert memory.available_gib("torch") == 3.0
    monkeypatch.setattr(memory, "cgroup_headroom_gib", lambda: 1.25)  # a container's tighter limit wins
    assert memory.available_gib("torch") == 1.25


def _group(folder, files: dict[str, str]):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


def test_a_cgroup_v2_limit_less_its_use_and_not_its_page_cache(tmp_path):
    root, member = tmp_path / "cgroup", tmp_path / "self-cgroup"
    _group(root, {"cgroup.controllers": "cpu memory\n"})
    _group(root / "jobs", {"memory.max": str(6 * 2**30), "memory.current": str(2 * 2**30),
                           "memory.stat": f"anon 100\ninactive_file {2**30}\n"})
    _group(root / "jobs" / "one", {"memory.max": "max\n", "memory.current": str(2**30), "memory.stat": ""})
    member.write_text("0::/jobs/one\n")
    assert memory.cgroup_headroom_gib(root, member) == 5.0  # 6 GiB limit - (2 GiB used - 1 GiB cache)


def test_a_cgroup_v1_limit_and_no_limit(tmp_path):
    root, member = tmp_path / "cgroup", tmp_path / "self-cgroup"
    _group(root / "memory", {"memory.limit_in_bytes": "9223372036854771712", "memory.usage_in_bytes": "5",
                             "memory.stat": ""})
    member.write_text("4:memory:/\n3:cpu:/other\n")
    assert memory.cgroup_headroom_gib(root, member) is None
    _group(root / "memory" / "batch", {"memory.limit_in_bytes": str(3 * 2**30), "memory.usage_in_bytes": str(2**30),
                                       "memory.stat": "total_inactive_file 0\n"})
    member.write_text("4:memory:/batch\n")
    assert memory.cgroup_headroom_gib(root, member) == 2.0


# -- MXNet: one statically allocated block, the training one -------------------------------
def test_mxnet_hybridizes_the_training_block_only():
    require("mxnet")
    from common.targets import compute_targets

    config = TransferConfig(size=(40, 56))
    backend = load_backend("mxnet")(weights(), last_layer=config.last_layer)
    rng = np.random.default_rng(0)
    init, targets = compute_targets(backend, rng.random((40, 56, 3), np.float32), rng.random((48, 48, 3), np.float32), config)
    backend.start(init, targets, config.loss_weights, config.adam, 0.1)
    backend.step()
    backend.extract_features(init, config.style_layers)  # targets again, as the next size's are taken
    (layers, training), = backend._taps_cache.items()  # targets built no block of their own
    assert layers == config.layers and training._active and dict(training._flags)["static_alloc"]
    assert not any(layer._active for layer in backend._features)  # each layer runs imperatively outside it
