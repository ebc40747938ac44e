"""The page's server (aiohttp): the page and its two assets from this package, a WebSocket per
browser tab, uploads bounded in bytes and pixels, and each run's own files.

A tab is a :class:`Session`: its WebSocket hands it a secret token, and uploads and downloads
name that token, so a tab reaches only its own uploads and runs; no path from a request is ever
joined to a folder (files are looked up by the run's name and a fixed list of file names).
Closing the tab closes its WebSocket, which stops its runs; their folder is removed once they
have ended."""
from __future__ import annotations

import asyncio
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from common.errors import UserError

from ..io.pictures import check_image_file, picture_size
from ..io.weights import SOURCES
from .jobs import Job, Pair, PageError, message

STATIC = Path(__file__).with_name("static")
SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
BACKENDS = {"torch": ["torch"], "mxnet": ["mxnet"], "both": ["torch", "mxnet"]}
# The page's choices, each a run.py option taken as typed; anything else is ignored.
OPTIONS = ("--recipe", "--size", "--steps", "--optimizer", "--preserve-colors", "--network", "--content-weight",
           "--style-weight", "--tv-weight", "--style-blend", "--scales", "--seed", "--lr")


@dataclass
class Limits:
    upload_bytes: int
    upload_pixels: int
    weights: dict[str, Path] = field(default_factory=dict)  # the page's names of the weights files offered


class Session:
    """One browser tab: its folder, uploads and runs."""

    def __init__(self, root: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.token = secrets.token_urlsafe(16)
        self.folder = Path(tempfile.mkdtemp(prefix="tab-", dir=root))
        self.loop, self.queue = loop, asyncio.Queue()
        self.uploads: dict[str, tuple[Path, str]] = {}  # id -> (file, the name it was uploaded under)
        self.jobs: dict[str, Job] = {}
        self.last: Optional[tuple[list[str], dict]] = None  # the backends and choices of the last start
        self.closed = False

    def send(self, msg: dict) -> None:
        """From any thread."""
        if not self.closed:  # "sent": the page measures how long a step takes to reach it
            self.loop.call_soon_threadsafe(self.queue.put_nowait, {**msg, "sent": time.time()})

    def running(self) -> bool:
        return any(job.thread.is_alive() for job in self.jobs.values())

    def start(self, choice: dict, limits: Limits, resume: bool = False) -> None:
        if self.running():
            raise PageError("a run is going on: stop it first")
        names = BACKENDS.get(str(choice.get("backend")))
        if names is None:
            raise PageError(f"unknown backend {choice.get('backend')!r}: choose torch, mxnet or both")
        argv, shown_argv = self._argv(choice, limits)
        jobs = {}
        for name in names:
            folder = self.folder / name
            folder.mkdir(exist_ok=True)
            if not resume:
                for stale in Job.FILES:
                    (folder / stale).unlink(missing_ok=True)
            jobs[name] = Job(name, ["--backend", name] + argv, ["--backend", name] + shown_argv, folder, self.send,
                             resume=resume)
        if len(jobs) == 2:
            pair = Pair(self.send)
            for job in jobs.values():
                job.pair = pair
        self.jobs, self.last = jobs, (names, choice)
        for job in jobs.values():
            job.thread.start()

    def _argv(self, choice: dict, limits: Limits) -> tuple[list[str], list[str]]:
        """run.py's command line for the page's choices, with the uploads' paths (and, for
        options.json, with the names they were uploaded under)."""
        argv, shown_argv = [], []
        for flag in OPTIONS:
            value = str(choice.get(flag, "") or "").strip()
            if value:
                argv += [flag, *value.split()]
        shown_argv = list(argv)
        weights = str(choice.get("--weights") or "imagenet")
        if weights in SOURCES:
            argv += ["--weights", weights]
            shown_argv += ["--weights", weights]
        elif weights in limits.weights:
            argv += ["--weights", str(limits.weights[weights])]
            shown_argv += ["--weights", weights]
        else:
            raise PageError(f"--weights {weights}: not offered here (the server's --weights-file adds files)")
        content = self.uploads.get(str(choice.get("content")))
        styles = [self.uploads.get(str(s)) for s in choice.get("styles") or []]
        if content is None:
            raise PageError("upload a content photo first")
        if not styles or None in styles:
            raise PageError("upload one or more style paintings first")
        argv += ["--content", str(content[0]), "--style", *(str(s[0]) for s in styles)]
        shown_argv += ["--content", content[1], "--style", *(s[1] for s in styles)]
        return argv, shown_argv

    def stop(self) -> None:
        for job in self.jobs.values():
            job.stop()

    def close(self) -> None:
        """The tab is gone: stop its runs; remove its folder once they have ended."""
        self.closed = True
        self.stop()
        jobs = list(self.jobs.values())

        def remove() -> None:
            for job in jobs:
                job.thread.join()
            shutil.rmtree(self.folder, ignore_errors=True)

        threading.Thread(target=remove, daemon=True).start()


def _name(raw: str) -> str:
    """An uploaded file's own name, as options.json shows it: its last part, printable, short."""
    name = re.sub(r"[^\w.+-]", "_", raw.replace("\\", "/").rsplit("/", 1)[-1])[-80:]
    return name or "upload"


class Server:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root, self.limits, self.sessions = root, limits, {}
        self.app = web.Application(client_max_size=limits.upload_bytes + 1024)
        self.app.add_routes([web.get("/", self.page), web.get("/app.js", self.asset), web.get("/app.css", self.asset),
                             web.get("/ws", self.socket), web.post("/upload/{token}", self.upload),
                             web.get("/files/{token}/{run}/{name}", self.file)])

    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def asset(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / request.path.lstrip("/"))

    def _session(self, request: web.Request) -> Session:
        session = self.sessions.get(request.match_info["token"])
        if session is None:
            raise web.HTTPNotFound(text="no such tab")
        return session

    async def upload(self, request: web.Request) -> web.Response:
        session = self._session(request)
        name = _name(unquote(request.headers.get("X-File-Name", "upload")))
        suffix = Path(name).suffix.lower()
        if suffix not in SUFFIXES:
            return web.json_response({"error": f"{name}: not a picture file ({', '.join(sorted(SUFFIXES))})"})
        if (request.content_length or 0) > self.limits.upload_bytes:
            return web.json_response({"error": self._too_large(name)})
        data = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            data += chunk
            if len(data) > self.limits.upload_bytes:
                return web.json_response({"error": self._too_large(name)})
        ident = f"u{len(session.uploads) + 1}"
        path = session.folder / f"{ident}{suffix}"
        path.write_bytes(bytes(data))
        try:
            check_image_file(path)
            height, width = picture_size(path)
            if height * width > self.limits.upload_pixels:
                raise UserError(f"{name} has {height * width:,} pixels, more than the {self.limits.upload_pixels:,} "
                                f"this page accepts (the server's --max-pixels)")
        except UserError as exc:
            path.unlink(missing_ok=True)
            return web.json_response({"error": message(exc).replace(str(path), name)})
        session.uploads[ident] = (path, name)
        return web.json_response({"id": ident, "name": name, "size": [height, width]})

    def _too_large(self, name: str) -> str:
        return f"{name} is larger than the {self.limits.upload_bytes / 2**20:g} MiB this page accepts (the server's --max-upload-mb)"

    async def file(self, request: web.Request) -> web.StreamResponse:
        session = self._session(request)
        job, name = session.jobs.get(request.match_info["run"]), request.match_info["name"]
        if job is None or name not in Job.FILES or not (job.folder / name).is_file():
            raise web.HTTPNotFound(text="no such file")
        return web.FileResponse(job.folder / name, headers={
            "Content-Disposition": f'attachment; filename="{job.name}-{name}"', "Cache-Control": "no-store"})

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        session = Session(self.root, asyncio.get_running_loop())
        self.sessions[session.token] = session
        weights = [*SOURCES, *self.limits.weights]
        await ws.send_json({"type": "hello", "token": session.token, "weights": weights,
                            "max_upload_mb": self.limits.upload_bytes / 2**20, "max_pixels": self.limits.upload_pixels})
        pump = asyncio.ensure_future(self._pump(session, ws))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self._command(session, msg.json())
        finally:
            pump.cancel()
            del self.sessions[session.token]
            session.close()
        return ws

    def _command(self, session: Session, command: dict) -> None:
        kind = command.get("type")
        try:
            if kind == "start":
                session.start(command.get("choice") or {}, self.limits)
            elif kind == "resume":
                if session.last is None or not any(j.checkpoint.is_file() for j in session.jobs.values()):
                    raise PageError("nothing to resume: start a run first")
                session.start(session.last[1], self.limits, resume=True)
            elif kind == "stop":
                session.stop()
        except UserError as exc:
            session.send({"type": "error", "run": None, "text": message(exc)})

    async def _pump(self, session: Session, ws: web.WebSocketResponse) -> None:
        while True:
            msg = await session.queue.get()
            await ws.send_json(msg)

    def stop_all(self) -> list[Session]:
        sessions = list(self.sessions.values())
        for session in sessions:
            session.stop()
        return sessions
