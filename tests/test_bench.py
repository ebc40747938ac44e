"""scripts/bench.py and the FLOP count behind its GFLOP/s (no timing is asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common.tools.flops import forward_flops, step_flops


ROOT = Path(__file__).resolve().parents[1]


def test_flops_match_the_layer_shapes():
    # conv1_1 on 32x32: 2 * 3 * 64 * 9 * 32 * 32
    assert forward_flops((32, 32), 0) == 2 * 3 * 64 * 9 * 32 * 32
    # pools floor: 33x33 and 32x32 give the same map after pool1
    assert forward_flops((33, 33), 5) - forward_flops((33, 33), 4) == forward_flops((32, 32), 5) - forward_flops((32, 32), 4)
    assert round(forward_flops((300, 450), 29) / 1e9, 1) == 96.6  # the "about 97 GFLOP"
    assert step_flops((300, 450), 29) == 2 * forward_flops((300, 450), 29)


def test_bench_writes_table_and_json(tmp_path, backend_name):
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--backends", backend_name,
                           "--sizes", "32x48", "--steps", "2", "--warmup", "1", "--device", "cpu", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "GFLOP/s" in proc.stdout and backend_name in proc.stdout
    chapter, project = json.loads(out.read_text())["results"]
    assert (chapter["configuration"], project["configuration"]) == ("chapter", "project fp32")
    assert chapter["execution"]["frozen"] is False and project["execution"]["frozen"] is True
    for result in (chapter, project):
        assert result["size"] == [32, 48] and result["seconds_per_step"] > 0
        assert set(result["stages"]) == {"forward", "backward", "update"}
        assert result["gflops"] == result["gflop_per_step"] / result["seconds_per_step"]
        assert result["peak_rss_gib"] > 0.05
    assert project["speedup_vs_chapter"] == chapter["seconds_per_step"] / project["seconds_per_step"]


def test_bench_bad_size_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--sizes", "300by450"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "HxW" in proc.stderr
