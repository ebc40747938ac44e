"""``web.py``: the local web page. It listens on 127.0.0.1 unless --host says otherwise, which
it warns about: whoever reaches the address can run pictures and upload files. Runs and uploads
live in a temporary folder (or --folder), removed when the page stops; Ctrl-C stops every run
and ends the program in one line, exit status 130."""
from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Optional, Sequence

from common.errors import UserError, shown

from ..cli.exits import BAD_INPUT, INTERRUPTED
from ..cli.limits import WEB_LIMITS
from ..cli.options import check_limits
from ..cli.parsing import OneLineParser, real, whole

PROG = "web.py"
LOCAL = "127.0.0.1"


def build_parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description="A local web page for style transfer with MXNet, PyTorch or both.")
    p.add_argument("--host", default=LOCAL,
                   help="address to listen on; anything but 127.0.0.1 lets other machines use the page (a warning says so)")
    p.add_argument("--port", type=whole, default=8770, help="port to listen on (0: any free port)")
    p.add_argument("--weights-file", action="append", metavar="FILE",
                   help="a weights file the page offers by its name (repeatable); imagenet, gluon and random always")
    p.add_argument("--max-upload-mb", type=real, default=20.0, metavar="MB", help="largest upload, in MiB")
    p.add_argument("--max-pixels", type=whole, default=25_000_000, metavar="N", help="most pixels of an upload")
    p.add_argument("--folder", help="where runs and uploads are kept while the page runs (default: a temporary folder)")
    return p


def _check(args) -> dict[str, Path]:
    from ..io.weights import check_spec

    check_limits(args, WEB_LIMITS)
    offered = {}
    for name in args.weights_file or []:
        check_spec(name)
        offered[Path(name).name] = Path(name).expanduser().resolve()
    return offered


async def _serve(server, host: str, port: int) -> None:
    from aiohttp import web

    runner = web.AppRunner(server.app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = site._server.sockets[0].getsockname()[1] if port == 0 else port  # type: ignore[union-attr]
    shown_host = f"[{host}]" if ":" in host else host
    # Signals through the loop from now on: raised as KeyboardInterrupt inside the loop's
    # machinery, one could be swallowed there (seen: the server went on serving).
    stopped, loop = asyncio.Event(), asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stopped.set)
        except NotImplementedError:  # Windows: Ctrl-C stays a KeyboardInterrupt
            pass
    print(f"{PROG}: serving http://{shown_host}:{bound}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        await stopped.wait()
    finally:
        await runner.cleanup()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        offered = _check(args)
        from .server import Limits, Server  # aiohttp: the web extra
    except ImportError as exc:
        print(f"{PROG}: error: the web page needs {exc.name}, which is not installed: pip install -e \".[web]\"",
              file=sys.stderr)
        return BAD_INPUT
    except UserError as exc:
        print(f"{PROG}: error: {shown(exc)}", file=sys.stderr)
        return BAD_INPUT
    if args.host != LOCAL:
        print(f"{PROG}: warning: listening on {args.host}: anyone who can reach it can run pictures on this machine "
              f"and upload files to it", file=sys.stderr)
    root = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="style-transfer-web-"))
    root.mkdir(parents=True, exist_ok=True)
    server = Server(root, Limits(int(args.max_upload_mb * 2**20), args.max_pixels, offered))
    try:
        try:
            asyncio.run(_serve(server, args.host, args.port))
        except KeyboardInterrupt:  # before the loop took the signals over
            pass
        server.stop_all()  # the tabs still open; those closed by the shutdown stopped their own
        for thread in threading.enumerate():
            if thread.name.startswith("web-"):  # a run: it stops at its next step boundary
                thread.join(timeout=60)
        print(f"{PROG}: stopped; every run stopped at a step boundary", file=sys.stderr)
        return INTERRUPTED
    except UserError as exc:
        print(f"{PROG}: error: {shown(exc)}", file=sys.stderr)
        return BAD_INPUT
    finally:
        if not args.folder:
            shutil.rmtree(root, ignore_errors=True)
