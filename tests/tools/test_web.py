"""The web page's server without a browser: a stopped run resumes bit-identically on each backend;
bad settings get run.py's own line; uploads are bounded in bytes and pixels; a tab reaches only
its own files; closing a tab stops its run and removes its files; the page's address."""
from __future__ import annotations

import asyncio
import io
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, in_process, require_module

require_module("aiohttp")  # the web extra: missing, the file skips (fails under .ci/run)

from common.tools.web.jobs import Job  # noqa: E402
from common.tools.web.server import Limits, Server  # noqa: E402

SMALL = ["--weights", "random", "--size", "32", "48", "--device", "cpu"]


def run_job(name, folder, files, steps, stop_at=None, resume=False):
    _, content, style = files
    sent = []
    folder.mkdir(exist_ok=True)
    argv = ["--backend", name, "--content", str(content), "--style", str(style), "--steps", str(steps), *SMALL]
    job = Job(name, argv, argv, folder, sent.append, resume=resume)
    if stop_at:
        job.hooks.append(lambda run, record: record.step == stop_at and run.request_stop("test"))
    job.thread.start()
    job.thread.join(120)
    return job, sent


def test_a_stopped_run_resumes_bit_identically(files, backend_name, tmp_path):
    whole, _ = run_job(backend_name, tmp_path / "whole", files, 6)
    stopped, sent = run_job(backend_name, tmp_path / "broken", files, 6, stop_at=3)
    ended = [m for m in sent if m["type"] == "ended"]
    assert ended and ended[0]["kind"] == "interrupted" and ended[0]["resumable"], sent[-3:]
    assert (tmp_path / "broken" / "checkpoint.npz").is_file() and (tmp_path / "broken" / "picture.png").is_file()
    resumed, sent = run_job(backend_name, tmp_path / "broken", files, 6, resume=True)
    assert [m["step"] for m in sent if m["type"] == "step"] == [4, 5, 6]
    a, b = (np.asarray(Image.open(j.output)) for j in (whole, resumed))
    assert np.array_equal(a, b)
    options = json.loads((tmp_path / "broken" / "options.json").read_text())
    assert options["command"].startswith(f"style-transfer --backend {backend_name} ") and "--resume" not in options["command"]


def test_a_bad_setting_is_run_py_s_own_line(files, tmp_path):
    _, content, style = files
    for bad in (["--steps", "0"], ["--size", "3", "4"], ["--steps", "many"]):
        argv = ["--backend", "torch", "--content", str(content), "--style", str(style), *SMALL, *bad]
        (tmp_path / "j").mkdir(exist_ok=True)
        try:
            job = Job("torch", argv, argv, tmp_path / "j", lambda m: None)
            job.thread.start()
            job.thread.join(60)
            said = None
        except Exception as exc:  # the parser's refusals come at once
            said = str(exc)
        cli = in_process("run", *argv, "--output", tmp_path / "o.png", cwd=tmp_path).stderr.strip()
        assert cli.startswith("run.py: error: ")
        if said is None:  # refused by the preflight, on the job's thread: sent to the page
            messages = []
            job = Job("torch", argv, argv, tmp_path / "j", messages.append)
            job.thread.start()
            job.thread.join(60)
            said = next(m["text"] for m in messages if m["type"] == "error")
        assert said == cli[len("run.py: error: "):], (said, cli)


def png(size):
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def serve(tmp_path, body):
    """``body(client, server)`` against a server on a free port, in a fresh event loop."""
    from aiohttp.test_utils import TestClient, TestServer

    async def main():
        server = Server(tmp_path, Limits(upload_bytes=200_000, upload_pixels=100 * 100))
        async with TestClient(TestServer(server.app)) as client:
            return await body(client, server)

    return asyncio.run(main())


async def hello(client):
    ws = await client.ws_connect("/ws")
    return ws, (await ws.receive_json())["token"]


def test_uploads_are_bounded_and_files_are_each_tab_s_own(tmp_path):
    async def body(client, server):
        ws_a, a = await hello(client)
        ws_b, b = await hello(client)
        up = lambda token, data, name="p.png": client.post(f"/upload/{token}", data=data, headers={"X-File-Name": name})
        ok = await (await up(a, png((40, 30)))).json()
        assert ok["size"] == [30, 40], ok
        assert "pixels" in (await (await up(a, png((120, 100)))).json())["error"]
        big = (await (await up(a, b"\0" * 300_000)).json())["error"]
        assert "larger than" in big and "MiB" in big
        assert "not a picture" in (await (await up(a, b"x", "evil.sh")).json())["error"]
        assert "error" in await (await up(a, b"not a png")).json()
        # tab b cannot use or fetch tab a's upload or files; names outside the list are refused
        await ws_b.send_json({"type": "start", "choice": {"backend": "torch", "--weights": "random", "content": ok["id"],
                                                           "styles": [ok["id"]]}})
        assert "upload a content photo first" in (await ws_b.receive_json())["text"]
        for path in (f"/files/{b}/torch/picture.png", f"/files/{a}/torch/picture.png", f"/files/{a}/torch/..%2F..%2Fu1.png",
                     f"/files/nobody/torch/options.json", f"/upload/nobody"):
            response = await (client.get(path) if "files" in path else up("nobody", png((4, 4))))
            assert response.status == 404, path
        await ws_a.close()
        await ws_b.close()
        return server

    serve(tmp_path, body)
    for _ in range(50):  # the closed tabs' folders go once their (no) runs have ended
        if not list(tmp_path.glob("tab-*")):
            break
        time.sleep(0.05)
    assert list(tmp_path.glob("tab-*")) == []


def test_closing_the_tab_stops_its_run(files, tmp_path):
    require_module("torch")
    _, content, style = files

    async def body(client, server):
        ws, token = await hello(client)
        ids = []
        for path in (content, style):
            answer = await client.post(f"/upload/{token}", data=path.read_bytes(), headers={"X-File-Name": path.name})
            ids.append((await answer.json())["id"])
        await ws.send_json({"type": "start", "choice": {"backend": "torch", "--weights": "random", "--size": "32 48",
                                                         "--steps": "100000", "content": ids[0], "styles": [ids[1]]}})
        while (await ws.receive_json())["type"] != "step":
            pass
        job = server.sessions[token].jobs["torch"]
        await ws.close()
        for _ in range(200):
            if not job.thread.is_alive():
                break
            await asyncio.sleep(0.05)
        return job

    job = serve(tmp_path, body)
    assert not job.thread.is_alive() and job.run.ending.kind.value == "interrupted"
    assert len(job.run.records) < 100000


def test_another_address_warns_and_ctrl_c_is_one_line(tmp_path):
    require_module("aiohttp")
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "web.py"), "--host", "0.0.0.0", "--port", "0"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    lines = [proc.stderr.readline(), proc.stderr.readline()]
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=30)[1]
    assert "warning: listening on 0.0.0.0" in lines[0] and "serving http://0.0.0.0:" in lines[1], lines
    assert proc.returncode == 130 and rest.count("\n") == 1 and "Traceback" not in rest, rest
