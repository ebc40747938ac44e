"""The README and docs/*.md against the code: every ``python scripts/<name>.py ...`` (and
``python lesson/run.py ...``) line in their fenced code blocks parses with that script's own
parser — nothing runs, nothing is imported beyond the parsers — and every relative link points
to a file that exists (and, into a Markdown page, to a heading it has). A renamed or removed
option, script or page fails here with the command or link shown."""
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
