"""What pip installs where: only the mxnet extra carries MXNet's old pins, behind markers, so
the PyTorch side installs on current Python releases; and asking for MXNet where its wheels
cannot exist is one line that says why."""
from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

from common import registry
from common.errors import BackendUnavailable

try:
    import tomllib  # Python 3.11+
except ImportError:  # 3.9 and 3.10: the same parser, as pip vendors it
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def installed(requirements: list[str], python: str) -> set[str]:
    """The requirements pip would install on Python ``python`` (markers evaluated)."""
    chosen = set()
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"python_version": python}):
            chosen.add(f"{requirement.name}{requirement.specifier}")
    return chosen


def test_the_core_and_the_torch_side_install_on_current_python():
    assert "<" not in PROJECT.get("requires-python", "")  # no upper bound on Python
    core = installed(PROJECT["dependencies"], "3.13")
    assert not any(name.startswith("numpy") and "<" in name for name in core)  # NumPy 2 allowed
    assert installed(PROJECT["optional-dependencies"]["torch"], "3.13")


def test_mxnet_and_its_numpy_pins_apply_only_up_to_python_3_11():
    extra = PROJECT["optional-dependencies"]["mxnet"]
    # NumPy < 1.24 for MXNet, and the last releases of SciPy, matplotlib and contourpy that still
    # support it, so that no pip backtracks through their newer releases.
    pins = {"mxnet==1.9.1", "numpy<1.24", "scipy<1.16", "matplotlib<3.11", "contourpy<1.3.3"}
    assert installed(extra, "3.9") == installed(extra, "3.11") == pins
    assert installed(extra, "3.12") == set() == installed(extra, "3.13")


@pytest.mark.parametrize("python", ["3.9", "3.11", "3.13"])
def test_all_is_every_other_extra_written_out(python):
    extras = PROJECT["optional-dependencies"]
    everything = extras["all"]
    assert not any(Requirement(r).name == PROJECT["name"] for r in everything)  # no self-reference
    others = set().union(*(installed(reqs, python) for name, reqs in extras.items() if name != "all"))
    assert installed(everything, python) == others


def test_a_backend_whose_framework_has_no_wheels_for_this_python_says_so(monkeypatch):
    info = registry.BACKENDS["mxnet"]
    monkeypatch.setitem(registry.BACKENDS, "mxnet", type(info)(**{**info.__dict__, "python_max": (3, 8)}))
    with pytest.raises(BackendUnavailable, match=r"needs Python <= 3\.8 .*\.\[all\] leaves it out") as caught:
        registry.load_backend("mxnet")
    assert "\n" not in str(caught.value)
    assert registry.available("mxnet")[0] is False
