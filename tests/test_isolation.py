"""The house rules, checked: common code imports no framework, the core never imports the tooling
or (registry aside) a backend, and each backend imports only its own framework."""
from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import common
import common.tools

from .conftest import require

ROOT = Path(__file__).resolve().parents[1]
CORE = sorted(f"common.{m.name}" for m in pkgutil.iter_modules(common.__path__) if not m.ispkg)
TOOLS = sorted(f"common.tools.{m.name}" for m in pkgutil.iter_modules(common.tools.__path__))

PROBE = """
import sys
{body}
loaded = sorted(m for m in ("torch", "torchvision", "mxnet") if m in sys.modules)
print(",".join(loaded))
"""


def imported_frameworks(body: str) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(filter(None, proc.stdout.strip().split(",")))


def test_the_module_lists_are_complete():
    assert {"common.interface", "common.transfer", "common.registry", "common.weights"} <= set(CORE)
    assert {"common.tools.cli", "common.tools.compare", "common.tools.bench", "common.tools.plots"} <= set(TOOLS)


def test_no_module_of_common_imports_a_framework():
    assert imported_frameworks("import " + ", ".join(CORE + TOOLS) + ", backends") == set()


def _imports(module: str) -> set[str]:
    """Every module name ``module`` imports, resolved to absolute names, and every string
    constant that looks like a backend module name."""
    path = ROOT / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.rsplit(".", 1)[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("backends."):
            names.add(node.value)
    return names


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_neither_the_tooling_nor_a_backend(module):
    imported = _imports(module)
    assert not {n for n in imported if n.startswith("common.tools")}, f"{module} imports the tooling"
    if module != "common.registry":  # whose job it is to import a backend by name
        assert not {n for n in imported if n == "backends" or n.startswith("backends.")}, f"{module} names a backend"


@pytest.mark.parametrize("module", TOOLS)
def test_the_tooling_names_no_backend_package(module):
    assert not {n for n in _imports(module) if n == "backends" or n.startswith("backends.")}


def test_random_weights_need_no_framework():
    assert imported_frameworks("from common.weights import load_weights; load_weights('random', 29)") == set()


@pytest.mark.parametrize("name, own", [("torch", {"torch", "torchvision"}), ("mxnet", {"mxnet"})])
def test_a_backend_imports_only_its_framework(name, own):
    require(name)
    assert imported_frameworks(f"from common.registry import load_backend; load_backend({name!r})") == own
