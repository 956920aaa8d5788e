"""Files other programs read (dnsmasq's hosts and options): written whole or not at all."""

from __future__ import annotations

import os
import tempfile


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return None


def write_atomic(path: str, content: str, mode: int = 0o644) -> bool:
    """Replace `path` with `content` by rename; False (and no write) when it already holds it.

    Mode 0644: dnsmasq re-reads its files after dropping root.
    """
    if read_text(path) == content:
        return False
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True


def blocking_ancestor(path: str) -> str | None:
    """The first directory on the way to `path` that other users cannot enter, or None.

    dnsmasq re-reads its files on SIGHUP after dropping root (to nobody): a directory
    without o+x on the way makes every reload fail.
    """
    current = os.path.abspath(path)
    chain = []
    while True:
        chain.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for directory in reversed(chain):
        try:
            mode = os.stat(directory).st_mode
        except FileNotFoundError:
            return None  # created later with our own (0755) mode
        if not mode & 0o001:
            return directory
    return None
