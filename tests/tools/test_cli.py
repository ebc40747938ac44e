"""scripts/run.py end to end, for each backend, and every kind of bad input."""
from __future__ import annotations

import json
import os
import re
import time

import numpy as np
import pytest
from PIL import Image

from common.tools.cli.exits import DIVERGED

from ..conftest import ROOT, as_child, in_process, require, script, synthetic_image



def test_end_to_end(files, backend_name):
    tmp, content, style = files
    out = tmp / "result" / "out.png"
    proc = as_child("run", "--backend", backend_name, "--content", content, "--style", style, "--size", 32, 48,
                   "--steps", 4, "--weights", "random", "--device", "cpu", "--log", tmp / "log.jsonl",
                   "--plot", tmp / "curves.png", "--save-every", 2, "--output", out, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert Image.open(out).size == (48, 32)  # Pillow reports (width, height)
    assert (tmp / "result" / "out_step0002.png").is_file() and (tmp / "result" / "out_step0004.png").is_file()
    assert Image.open(tmp / "curves.png").size[0] > 300
    records = [json.loads(line) for line in (tmp / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert set(records[0]) == {"step", "content", "style", "tv", "total", "lr", "seconds", "size_index", "height", "width",
                               "elapsed"}
    assert [(r["size_index"], r["height"], r["width"]) for r in records] == [(1, 32, 48)] * 4
    elapsed = [r["elapsed"] for r in records]
    assert elapsed == sorted(elapsed) and elapsed[0] >= records[0]["seconds"]  # targets are counted too
    assert records[0]["content"] == 0 and [r["lr"] for r in records] == [0.3] * 4
    assert all(r["total"] == pytest.approx(r["content"] + r["style"] + r["tv"], rel=1e-5) for r in records)
    summary = proc.stdout.strip().splitlines()
    assert len(summary) == 1 and "4 steps" in summary[0] and "s/step" in summary[0] and str(out) in summary[0]


def test_divergence_saves_the_last_good_image_and_exits_3(files, backend_name):
    tmp, content, style = files
    proc = in_process("run", "--backend", backend_name, "--content", content, "--style", style, "--size", 32, 48,
                   "--steps", 5, "--weights", "random", "--lr", "1e30", "--device", "cpu",
                   "--output", tmp / "out.png", cwd=tmp)
    assert proc.returncode == DIVERGED == 3, proc.stderr  # not 1, which a bug's traceback gives
    assert "non-finite" in proc.stderr and "Traceback" not in proc.stderr
    # the last good image is the one step 1 started from: the content image
    saved = np.asarray(Image.open(tmp / "out.png"), dtype=np.float32) / 255
    expected = np.asarray(Image.open(content).resize((48, 32), Image.BILINEAR), dtype=np.float32) / 255
    assert np.abs(saved - expected).max() <= 1 / 255


def test_missing_default_images_offline_say_what_to_pass(files):
    tmp, content, style = files
    closed = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": ""}
    proc = as_child("run", "--style", style, "--weights", "random", "--size", 32, 32, cwd=tmp, env=closed)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "pass --content FILE" in proc.stderr


def test_a_framework_that_fails_to_import_is_one_line(files, tmp_path):
    tmp, content, style = files
    fake = tmp_path / "fake"
    (fake / "mxnet").mkdir(parents=True)
    (fake / "mxnet" / "__init__.py").write_text("raise AttributeError(\"module 'numpy' has no attribute 'bool'\")\n")
    proc = as_child("run", "--backend", "mxnet", "--content", content, "--style", style, "--weights", "random",
                   "--size", 32, 32, cwd=tmp, env={"PYTHONPATH": f"{fake}{os.pathsep}{ROOT}"})
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "fails to import" in proc.stderr and "pip install" in proc.stderr


def test_help_runs_and_every_option_is_documented(tmp_path):
    """``--help`` works from the script, and every option of every script (bench.py's commands
    too) has its row in docs/options.md: an option added to a parser without its documentation
    fails here."""
    proc = as_child("run", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "--seed" in proc.stdout
    page = (ROOT / "docs" / "options.md").read_text(encoding="utf-8")
    for name in ("run", "batch", "compare", "bench"):
        flags = {flag for parser in _parsers(_parser(name)) for action in parser._actions
                 for flag in action.option_strings if flag.startswith("--") and flag != "--help"}
        assert len(flags) > 3, name
        assert not {flag for flag in flags if f"`{flag}" not in page}, (name, sorted(f for f in flags
                                                                                 if f"`{f}" not in page))


def test_torch_bf16_end_to_end(files):
    require("torch")
    tmp, content, style = files
    proc = in_process("run", "--backend", "torch", "--precision", "bf16", "--content", content, "--style", style,
                   "--weights", "random", "--size", 32, 48, "--steps", 2, "--device", "cpu",
                   "--output", tmp / "o.png", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "(bf16, " in proc.stderr and Image.open(tmp / "o.png").size == (48, 32)


def _parser(name: str):
    return script(name).build_parser()


def _parsers(parser):
    """The parser and, for bench.py, each of its commands' parsers."""
    import argparse

    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


@pytest.mark.parametrize("script", ["run", "compare", "bench", "batch"])
def test_help_gives_every_option_a_line_and_its_default_once(script):
    import argparse

    checked = 0
    for parser in _parsers(_parser(script)):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{script}.py {action.option_strings[0]} has no help line"
            text = (formatter._get_help_string(action) % dict(vars(action), prog=parser.prog)).lower()
            if action.default is not None and action.default is not False and action.default != ():
                # a default to say, 0 included: the formatter adds it, unless the help says it already
                assert text.count("default") == 1, (script, action.option_strings, text)
            else:  # no default the formatter could add: one written by hand at most
                assert text.count("default") <= 1, (script, action.option_strings, text)
            checked += 1
    assert checked > 10


@pytest.mark.parametrize("script", ["run", "compare", "bench", "batch"])
def test_help_shows_each_default_as_it_would_be_typed(script):
    """What --help adds as "(default: X)" is X as a user types it: given after its flag, X parses
    back to the default itself (``300 450``, not ``(300, 450)``; ``fp32``, not ``['fp32']``; and 0)."""
    from common.tools.cli.parsing import typed_default

    def plain(value):
        return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value

    shown = {}
    for parser in _parsers(_parser(script)):
        required = [x for a in parser._actions if a.required and a.option_strings for x in (a.option_strings[0], "x")]
        for action in parser._actions:
            typed = typed_default(action)
            if typed is None or "default" in (action.help or "").lower():
                continue
            assert "(" not in typed and "[" not in typed and "'" not in typed, (script, action.option_strings, typed)
            parsed = parser.parse_args([*required, action.option_strings[0], *typed.split()])
            assert plain(getattr(parsed, action.dest)) == plain(action.default), (script, action.option_strings, typed)
            shown[f"{parser.prog} {action.option_strings[0]}"] = typed
    assert shown, script
    if script == "run":
        assert shown["run.py --size"] == "300 450" and shown["run.py --seed"] == shown["run.py --save-every"] == "0"
    if script == "bench":
        assert shown["bench.py speed --sizes"] == "150x225 300x450" and shown["bench.py speed --precision"] == "fp32"
    if script == "batch":
        assert shown["batch.py --pairing-seed"] == shown["batch.py --gpus-per-task"] == "0"


def test_picture_options_end_to_end(files, backend_name):
    """Two styles blended, coarse to fine, L-BFGS, a noise start and luminance-only colour, at a long edge."""
    tmp, content, style = files
    second = tmp / "second.png"
    Image.fromarray((synthetic_image(3, (40, 90)) * 255).astype(np.uint8)).save(second)
    proc = in_process("run", "--backend", backend_name, "--content", content, "--style", style, second, "--style-blend", 2, 1,
                   "--size", 96, "--scales", 2, "--scale-steps", 3, "--steps", 2, "--optimizer", "lbfgs",
                   "--init", "noise", "--preserve-colors", "luminance", "--weights", "random", "--device", "cpu",
                   "--log", tmp / "log.jsonl", "--plot", tmp / "plot.png", "--output", tmp / "o.png", cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(tmp / "o.png").size == (96, 72)  # content 60x80: long edge 96 keeps 3:4
    records = [json.loads(line) for line in (tmp / "log.jsonl").read_text().splitlines()]
    assert [(r["size_index"], r["height"], r["width"]) for r in records] == [(1, 36, 48)] * 3 + [(2, 72, 96)] * 2
    assert all(r["lr"] is None for r in records)
    assert "the picture as saved" in proc.stdout


def test_the_fast_recipe_sets_defaults_that_explicit_options_override(files):
    require("torch")
    tmp, content, style = files
    common = ["--content", content, "--style", style, "--weights", "random", "--device", "cpu", "--size", 64, 96,
              "--steps", 2, "--scale-steps", 2, "--output", tmp / "o.png", "--log", tmp / "log.jsonl"]
    proc = in_process("run", "--recipe", "fast", *common, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    assert "32x48 -> 64x96" in proc.stderr and "bounded" in proc.stderr
    assert [json.loads(line)["size_index"] for line in (tmp / "log.jsonl").read_text().splitlines()] == [1, 1, 2, 2]
    proc = in_process("run", "--recipe", "fast", "--scales", 1, *common, cwd=tmp)
    assert proc.returncode == 0 and "32x48" not in proc.stderr and "bounded" in proc.stderr


def test_a_second_default_run_numbers_its_picture_instead_of_replacing_the_first(files):
    tmp, content, style = files
    args = ("--content", content, "--style", style, "--size", 32, 48, "--steps", 1, "--weights", "random")
    first = in_process("run", *args, cwd=tmp)
    kept = (tmp / "stylized.png").read_bytes()
    second = in_process("run", *args, "--seed", 3, cwd=tmp)
    assert first.returncode == second.returncode == 0, second.stderr
    assert first.stdout.rstrip().endswith("wrote stylized.png") and second.stdout.rstrip().endswith("wrote stylized-2.png")
    assert (tmp / "stylized.png").read_bytes() == kept and (tmp / "stylized-2.png").is_file()
    explicit = in_process("run", *args, "--output", "stylized.png", cwd=tmp)  # a name given is the user's to replace
    assert explicit.returncode == 0 and not (tmp / "stylized-3.png").exists()


def test_an_unusable_home_keeps_matplotlib_s_advice_off_stderr(files):
    tmp, content, style = files
    proc = as_child("run", "--content", content, "--style", style, "--size", 32, 48, "--steps", 1, "--weights", "random",
                   "--output", tmp / "out.png", "--plot", tmp / "plot.png", cwd=tmp, env={"HOME": "/dev/null"})
    assert proc.returncode == 0 and (tmp / "plot.png").is_file(), proc.stderr
    assert "matplotlib" not in proc.stderr.lower() and len(proc.stderr.splitlines()) == 1, proc.stderr


def test_the_header_says_where_start_up_went(files):
    """One clock per phase from the script's first instruction: the phases add up to the total, and
    the total fits inside the process's own lifetime as the test sees it."""
    tmp, content, style = files
    began = time.perf_counter()
    proc = as_child("run", "--backend", "torch", "--content", content, "--style", style, "--size", 32, 48,
                    "--steps", 1, "--weights", "random", "--device", "cpu", "--output", tmp / "out.png", cwd=tmp)
    lifetime = time.perf_counter() - began
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"start-up (\S+) s \((.*)\)$", proc.stderr.splitlines()[0])
    assert found, proc.stderr
    phases = dict(part.rsplit(" ", 1) for part in found.group(2).split(", "))
    assert list(phases) == ["imports", "checks", "images", "PyTorch", "weights", "network"]
    assert float(found.group(1)) == pytest.approx(sum(map(float, phases.values())), abs=0.011)
    assert 0 < float(found.group(1)) < lifetime


def test_the_fast_recipe_stops_each_size_by_its_rule_and_says_why(files):
    """--recipe fast ends a size once its loss improved by less than 10 % over 3 steps; the summary
    names each size that ended so; --plateau-window 0 runs every step."""
    tmp, content, style = files
    common = ["--content", content, "--style", style, "--weights", "random", "--device", "cpu", "--size", 64, 96,
              "--steps", 40, "--scale-steps", 40, "--output", tmp / "o.png", "--log", tmp / "log.jsonl"]
    proc = in_process("run", "--recipe", "fast", *common, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp / "log.jsonl").read_text().splitlines()]
    assert len(records) < 80
    said = re.findall(r"size (\d) \(\d+x\d+\) done after (\d+) steps: its loss improved (\S+) % in the last 3 "
                      r"\(less than 10 %\)", proc.stdout)
    for size, steps, gain in said:
        here = [r["total"] for r in records if r["size_index"] == int(size)]
        assert len(here) == int(steps) and float(gain) < 10
        assert (min(here[:-3]) - min(here)) / min(here[:-3]) == pytest.approx(float(gain) / 100, abs=5e-4)
    assert said and {int(s) for s, _, _ in said} | {r["size_index"] for r in records if
                                                   sum(q["size_index"] == r["size_index"] for q in records) == 40} == {1, 2}
    proc = in_process("run", "--recipe", "fast", "--plateau-window", 0, *common, "--steps", 6, "--scale-steps", 6, cwd=tmp)
    assert proc.returncode == 0 and "done after" not in proc.stdout
    assert len((tmp / "log.jsonl").read_text().splitlines()) == 12
