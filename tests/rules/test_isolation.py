"""The house rules, checked on the source: the core (the modules directly in common/) only
computes — it does no process, file or network work and imports no tooling; nothing in common/
imports a framework; each backend imports only its own framework; the tooling names no backend
package; the project's import graph has no circle; nothing is imported through a re-export; and
the backend contract holds only the computation, what else a framework offers being in its
``tools`` module, the same functions in both."""
from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import common
import common.tools

from ..conftest import require

ROOT = Path(__file__).resolve().parents[2]
CORE = sorted(f"common.{m.name}" for m in pkgutil.iter_modules(common.__path__) if not m.ispkg)
TOOLS = sorted(m.name for m in pkgutil.walk_packages(common.tools.__path__, "common.tools.") if not m.ispkg)
BACKENDS = sorted(m.name for m in pkgutil.walk_packages([str(ROOT / "backends")], "backends.") if not m.ispkg)
PACKAGES = ["common", "common.tools", "backends"] + sorted(
    m.name for m in pkgutil.walk_packages(common.tools.__path__, "common.tools.") if m.ispkg) + sorted(
    m.name for m in pkgutil.walk_packages([str(ROOT / "backends")], "backends.") if m.ispkg)
PROJECT = PACKAGES + CORE + TOOLS + BACKENDS

# What the core may not import: process, file-system, signal and network work, and the
# well-kept libraries the tooling uses for them.
PROCESS_WORK = {"os", "signal", "subprocess", "multiprocessing", "threading", "ctypes", "fcntl", "shutil", "tempfile",
                "socket", "ssl", "http", "urllib", "requests", "pooch", "filelock", "psutil", "platformdirs",
                "resource", "atexit", "glob", "io"}
# Calls that read or write files or talk to the user: a file opened, an array saved or loaded, a
# picture written, stdin read, stdout written.
FILE_CALLS = {"open", "print", "input", "save", "savez", "savez_compressed", "load", "loadtxt", "savetxt",
              "write_text", "write_bytes", "read_text", "read_bytes", "mkdir", "unlink", "rmdir", "touch"}
# sys's process-wide parts (its version may be read: the registry checks Python's against a framework's wheels).
SYS_PROCESS = {"stdout", "stderr", "stdin", "argv", "exit", "path", "modules", "setrecursionlimit"}

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


def _path(module: str) -> Path:
    base = ROOT / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _tree(module: str) -> ast.Module:
    return ast.parse(_path(module).read_text(encoding="utf-8"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module if _path(module).name == "__init__.py" else module.rsplit(".", 1)[0]
    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join(parts + ([node.module] if node.module else []))


def imports(module: str) -> set[str]:
    """Every module name ``module`` imports (``from a import b`` gives a and a.b), absolute,
    and every string constant that names a backend module."""
    names: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("backends."):
            names.add(node.value)
    return names


def test_the_module_lists_are_complete():
    assert {"common.interface", "common.transfer", "common.adam", "common.lbfgs", "common.registry"} <= set(CORE)
    assert {"common.tools.cli.main", "common.tools.compare.main", "common.tools.bench.main",
            "common.tools.batch.main", "common.tools.io.files"} <= set(TOOLS)
    assert {"backends.torch.backend", "backends.mxnet.backend", "backends.torch.tools", "backends.mxnet.tools",
            "backends.threads", "backends.timing"} <= set(BACKENDS)


def test_no_module_of_common_imports_a_framework():
    assert imported_frameworks("import " + ", ".join(CORE + TOOLS) + ", backends") == set()


@pytest.mark.parametrize("module", CORE)
def test_the_core_imports_no_process_work_no_tooling_and_no_backend(module):
    imported = imports(module)
    assert not {n for n in imported if n.split(".")[0] in PROCESS_WORK}, f"{module} imports process or file work"
    assert not {n for n in imported if n.startswith("common.tools")}, f"{module} imports the tooling"
    if module != "common.registry":  # whose job it is to import a backend by name
        assert not {n for n in imported if n == "backends" or n.startswith("backends.")}, f"{module} names a backend"


@pytest.mark.parametrize("module", CORE)
def test_the_core_reads_and_writes_no_files_and_no_process_state(module):
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            assert name not in FILE_CALLS, f"{module}:{node.lineno} calls {name}()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sys":
            assert node.attr not in SYS_PROCESS, f"{module}:{node.lineno} uses sys.{node.attr}"


@pytest.mark.parametrize("module", TOOLS)
def test_the_tooling_names_no_backend_package(module):
    # Only the registry names a backend module; the tooling asks it (even for backends.threads).
    named = {n for n in imports(module) if n == "backends" or n.startswith("backends.")}
    assert not named, f"{module} imports {sorted(named)}"


def test_the_import_graph_has_no_circle():
    graph = {m: {n for n in imports(m) if n in PROJECT and n != m} for m in PROJECT}
    for start in graph:  # a package importing its own modules is no circle: Python finishes the package first
        graph[start] = {n for n in graph[start] if not (_path(start).name == "__init__.py" and n.startswith(start + "."))}
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import circle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def _defined(module: str) -> set[str]:
    """Names a module defines itself (functions, classes, assignments), and its submodules."""
    names = set()
    for node in _tree(module).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for target in targets for t in ast.walk(target) if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.If, ast.Try)):  # guarded definitions
            names |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return names | {m[len(module) + 1:] for m in PROJECT if m.startswith(module + ".") and "." not in m[len(module) + 1:]}


# A package's entry point is what it is for: importing ``Backend`` from a backend package is its contract.
PUBLIC_REEXPORTS = {("backends.torch", "Backend"), ("backends.mxnet", "Backend")}


@pytest.mark.parametrize("module", PROJECT)
def test_nothing_is_imported_through_a_re_export(module):
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            if source in PROJECT:
                for alias in node.names:
                    if (source, alias.name) not in PUBLIC_REEXPORTS:
                        assert alias.name in _defined(source), \
                            f"{module} imports {alias.name} from {source}, which only passes it on"


def test_random_weights_need_no_framework():
    assert imported_frameworks("from common.weights import random_weights; random_weights(0, 29)") == set()


# torchvision costs about a second of imports; only the pretrained download and chapter_image need it.
@pytest.mark.parametrize("name, own", [("torch", {"torch"}), ("mxnet", {"mxnet"})])
def test_a_backend_imports_only_its_framework(name, own):
    require(name)
    assert imported_frameworks(f"from common.registry import load_backend; load_backend({name!r})") == own


# -- the backend contract only computes; the rest is each framework's tools module ------------
TOOLS_FUNCTIONS = {"gpu_status", "free_gpu_memory_gib", "environment", "memory_peak_gib", "reset_memory_peak",
                   "fetch_pretrained", "read_weights_file", "chapter_image"}
# What the core (transfer, Adam, L-BFGS, targets) and the tooling may call on a backend.
CONTRACT = {"name", "framework", "adam_epsilon", "precisions", "compiles", "transforms", "losses", "network",
            "convention", "weights", "errors", "translate_error", "device", "synchronize", "preprocess", "postprocess",
            "extract_features", "gram", "use_targets", "evaluate", "start", "adam_moments", "clip_image", "step",
            "set_learning_rate", "image", "keep", "kept_image"}


def _functions(module: str) -> dict[str, list[str]]:
    """A module's public top-level functions and their parameter names."""
    return {node.name: [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
            for node in _tree(module).body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


def test_the_two_backends_are_mirrored_module_for_module():
    torch_modules = {m.split(".", 2)[2] for m in BACKENDS if m.startswith("backends.torch.")}
    assert torch_modules == {m.split(".", 2)[2] for m in BACKENDS if m.startswith("backends.mxnet.")}
    assert "tools" in torch_modules


def test_each_tools_module_offers_the_same_functions_with_the_same_arguments():
    torch_tools, mxnet_tools = _functions("backends.torch.tools"), _functions("backends.mxnet.tools")
    assert set(torch_tools) == set(mxnet_tools) == TOOLS_FUNCTIONS
    for name in TOOLS_FUNCTIONS:
        assert torch_tools[name] == mxnet_tools[name], name


def test_the_contract_has_only_the_computation():
    from common.interface import StyleBackend

    public = {n for n in dir(StyleBackend) if not n.startswith("_")}
    public |= set(StyleBackend.__annotations__)
    public.add("weights")  # set in __init__
    assert public == CONTRACT, (sorted(public - CONTRACT), sorted(CONTRACT - public))
    assert not TOOLS_FUNCTIONS & public


@pytest.mark.parametrize("module", CORE + TOOLS)
def test_nothing_outside_the_backends_calls_the_parts_of_a_step(module):
    # backends/timing.py times _forward, _backward and _update; common/ calls step() or asks the registry.
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Attribute) and node.attr in {"_forward", "_backward", "_update", "_floats"}:
            if module == "common.interface":
                continue  # where step() is written from them
            pytest.fail(f"{module}:{node.lineno} calls {node.attr}")
