"""Writing files so that a crash never leaves half a file, with the permissions a plain
``open()`` gives, and a lock so that two runs sharing a cache do not download or convert the
same file at the same time.

The atomic write is written here: no well-kept library does just this (``atomicwrites`` is
unmaintained; ``filelock`` and ``pooch`` lock and download, they do not replace files). The lock
leaves no file behind: on POSIX it is an ``flock`` on a file that its holder removes before
letting go (a waiter that then holds a removed file tries again); elsewhere ``filelock``'s, which
removes its file on Windows."""
from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from filelock import FileLock

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; on success its data is synced to disk and it
    becomes ``path`` in one rename (the folder synced too, so the rename survives a power cut);
    on failure it is removed and ``path`` is untouched.

    The temporary file is created with mode 0666, which the kernel narrows by the umask as it
    does for ``open(path, "w")``: nobody reads the umask (reading it means setting it, a race
    with other threads), and a shared result or cache stays readable."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}-{secrets.token_hex(4)}{path.suffix}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield tmp
        _sync(tmp)
        os.replace(tmp, path)
        _sync(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _sync(path: Path) -> None:
    """fsync a file, or a folder where the system allows opening one (not on Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock named after ``path`` (``path.lock``) while the block runs: a second
    process waits, then finds the file the first one made."""
    lock = Path(f"{path}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        with FileLock(str(lock)):
            yield
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                held = os.path.samestat(os.fstat(fd), os.stat(lock))
            except FileNotFoundError:
                held = False
        except BaseException:  # Ctrl-C while waiting
            os.close(fd)
            raise
        if held:
            break
        os.close(fd)  # the holder before removed this file: lock the one there now
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while held: whoever waits on it sees it gone and tries again
        os.close(fd)
