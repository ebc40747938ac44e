"""Offline, the default run says in one line, before any framework is imported, everything it
would have downloaded (photo, painting, weights) and what to pass instead, and leaves nothing in
the cache; the cache's lock leaves no file behind."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from common.tools.io import offline
from common.tools.io.files import exclusive
from tests.conftest import ROOT, require_module

CLOSED = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "", "NO_PROXY": ""}
PROBE = ("import sys; sys.path.insert(0, {root!r}); from common.tools.cli.main import main; status = main({argv!r}); "
         "print('imported:', sorted(m for m in ('torch', 'mxnet', 'torchvision') if m in sys.modules)); sys.exit(status)")


def offline_run(tmp_path, *argv):
    env = dict(os.environ, STYLE_TRANSFER_CACHE=str(tmp_path / "cache"), TORCH_HOME=str(tmp_path / "torch"),
               MXNET_HOME=str(tmp_path / "mxnet"), **CLOSED)
    code = PROBE.format(root=str(ROOT), argv=[str(a) for a in argv])
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def left_behind(tmp_path):
    return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())


def test_the_default_run_offline_is_one_line_naming_every_missing_piece(tmp_path):
    proc = offline_run(tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for piece in ("rainier.jpg", "autumn-oak.jpg", "vgg19-dcbb9e9d.pth", "--content FILE", "--style FILE",
                  "--weights random"):
        assert piece in lines[0], piece
    assert "imported: []" in proc.stdout  # before torch (and torchvision's "Downloading:" line)
    assert left_behind(tmp_path) == []  # no .lock, no partial download


def test_own_photos_and_default_weights_offline_say_only_the_weights(files, tmp_path):
    _, content, style = files
    for source, name in (("imagenet", "vgg19-dcbb9e9d.pth"), ("gluon", "vgg19-ad2f660d.params")):
        proc = offline_run(tmp_path, "--content", content, "--style", style, "--weights", source)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert name in lines[0] and "rainier" not in lines[0] and "imported: []" in proc.stdout
    assert [p for p in left_behind(tmp_path) if not p.startswith(("content", "style"))] == []


def test_weights_on_disk_need_no_download(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLE_TRANSFER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert offline.weights_piece("imagenet", "vgg16").url.endswith("vgg16-397923af.pth")
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    (hub / "vgg16-397923af.pth").write_bytes(b"")  # torchvision's own download, found where torch.hub looks
    assert offline.weights_piece("imagenet", "vgg16") is None
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "vgg19-gluon-model-zoo.npz").write_bytes(b"")  # the converted copy
    assert offline.weights_piece("gluon", "vgg19") is None and offline.weights_piece("random") is None


def test_the_addresses_are_the_frameworks_own():
    torchvision = require_module("torchvision")
    for network, weights in (("vgg19", torchvision.models.VGG19_Weights), ("vgg16", torchvision.models.VGG16_Weights)):
        assert offline.TORCHVISION_URL + offline.TORCHVISION_FILES[network] == weights.IMAGENET1K_V1.url
    try:
        from mxnet.gluon.model_zoo import model_store
    except Exception as exc:  # noqa: BLE001 - missing or broken: the torch side is checked above
        pytest.skip(f"mxnet: {exc}")
    assert model_store.apache_repo_url == offline.GLUON_URL
    for network, name in offline.GLUON_FILES.items():
        assert name == f"{network}-{model_store.short_hash(network)}.params"


def test_the_lock_excludes_and_leaves_no_file(tmp_path):
    target, inside, overlaps = tmp_path / "file.npz", [], []

    def hold():
        for _ in range(20):
            with exclusive(target):
                inside.append(1)
                if len(inside) > 1:
                    overlaps.append(1)
                time.sleep(0.001)
                inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [] and list(tmp_path.iterdir()) == []
