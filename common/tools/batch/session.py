"""Ray's lifetime for one batch: started (a local Ray of the batch's own, or a running cluster
joined) and always shut down, whatever moment Ctrl-C or SIGTERM comes, ``ray.init`` included,
with nothing of a local Ray left running.

``ray.init`` runs on a thread of its own while the main thread waits, so a signal raises
KeyboardInterrupt in that wait and never inside Ray's start: on the main thread it could land in
an at-fork hook, where Python drops it (the batch then ran on), or half-way through the core
worker's start (the interpreter then crashed at exit), and Ray installed a SIGTERM handler that
exits with status 15 and no word. After a signal the start is let finish, so that
``ray.shutdown()`` knows every process. The thread stays until Ray is shut down: Ray starts its
processes with PR_SET_PDEATHSIG, which kills them when the *thread* that started them ends.

``ray.shutdown()`` stops only what ``ray.init`` finished starting, and the processes a raylet
starts (its dashboard and runtime-env agents) outlive it under PID 1 when their raylet is killed
first. So on Linux the driver becomes a child subreaper while its Ray runs: every process it
starts, however deep, stays its descendant when a parent dies, and what is left after
``ray.shutdown()`` is stopped (SIGTERM, then SIGKILL for what ignores it). Elsewhere the
descendants still alive at the end are stopped, which misses the orphans."""
from __future__ import annotations

import contextlib
import ctypes
import logging
import signal
import sys
import threading
from typing import Any, Iterator, Optional

from common.errors import UserError, one_line

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h
GRACE_SECONDS = 1.0  # how long a process has after SIGTERM, then after SIGKILL, to be gone
INIT_WAIT_SECONDS = 60.0  # after a signal, how long ray.init may go on (it gives up sooner by itself)


@contextlib.contextmanager
def ray_session(ray: Any, address: Optional[str], cpus: Optional[int]) -> Iterator[None]:
    """Ray started for the block and shut down after it, however the block or the start ends."""
    own = OwnProcesses() if not address else None  # a cluster's processes are the cluster's
    shut = threading.Event()  # Ray is shut down: the thread that started it may end
    try:
        start_ray(ray, address, cpus, shut)
        yield
    finally:
        with _signals_noted():  # the cleanup is short and bounded; a second Ctrl-C must not cut it
            try:
                ray.shutdown()
            except Exception:  # noqa: BLE001 - a half-started Ray: what is left is stopped below
                pass
            if own is not None:
                own.stop()
            shut.set()


def start_ray(ray: Any, address: Optional[str], cpus: Optional[int], shut: threading.Event) -> None:
    """``ray.init`` on a thread that lives until ``shut`` is set; its failures in one line."""
    outcome: dict[str, BaseException] = {}
    started = threading.Event()  # not Thread.join: Python 3.11's join, interrupted, marks a running thread stopped

    def init() -> None:
        try:
            if address:  # joins a running cluster: its resources are what they are
                ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
            else:  # a new Ray on this machine, gone when the batch ends ("local": never a running one,
                # which ray.init() would join if `ray start` had left one up)
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, logging_level=logging.ERROR,
                         log_to_driver=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which says it
            outcome["error"] = exc
        finally:
            started.set()
        shut.wait()  # Ray's processes die with this thread

    # Ray's warning that it set no SIGTERM handler off the main thread, as its other warnings.
    logging.getLogger("ray").setLevel(logging.ERROR)
    threading.Thread(target=init, name="ray.init", daemon=True).start()
    try:
        while not started.wait(0.1):  # interruptible: Python runs its signal handlers here
            pass
    except KeyboardInterrupt:
        with _signals_noted():
            started.wait(INIT_WAIT_SECONDS)
        raise
    error = outcome.get("error")
    if isinstance(error, (ConnectionError, ValueError, RuntimeError)):
        raise UserError(f"cannot start or reach Ray{f' at {address}' if address else ''}: {one_line(error)}")
    if error is not None:
        raise error


class OwnProcesses:
    """The processes this one starts from now on, to be stopped at the end: the local Ray's."""

    def __init__(self) -> None:
        import psutil

        self.psutil, self.me = psutil, psutil.Process()
        self.before = {p.pid for p in self.me.children(recursive=True)}
        self.subreaper = _subreaper(True)

    def running(self) -> list:
        """Descendants started since, zombies aside (one of ours is reaped by the wait below)."""
        left = []
        for p in self.me.children(recursive=True):
            try:
                if p.pid not in self.before and (p.status() != self.psutil.STATUS_ZOMBIE or p.ppid() == self.me.pid):
                    left.append(p)
            except self.psutil.Error:
                pass  # gone while we looked
        return left

    def stop(self) -> None:
        """Every process in :meth:`running` ended: SIGTERM, then SIGKILL, a few rounds for any that
        a dying parent started meanwhile."""
        try:
            for _ in range(4):
                left = self.running()
                if not left:
                    return
                for how in ("terminate", "kill"):
                    for p in left:
                        with contextlib.suppress(self.psutil.Error):
                            getattr(p, how)()
                    _, left = self.psutil.wait_procs(left, timeout=GRACE_SECONDS)
                    if not left:
                        break
        finally:
            if self.subreaper:
                _subreaper(False)


def _subreaper(on: bool) -> bool:
    """Make this process a child subreaper (Linux 3.4+), or stop being one; whether it worked."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _signals_noted() -> Iterator[None]:
    """SIGINT and SIGTERM do nothing for a while. A handler, not SIG_IGN: an ignored signal stays
    ignored in every process started meanwhile (ray.init may still be starting some)."""
    signums = (signal.SIGINT, signal.SIGTERM) if _main_thread() else ()
    previous = {s: signal.signal(s, _nothing) for s in signums}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _nothing(signum: int, frame: object) -> None:
    pass
