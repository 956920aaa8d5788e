"""Named network namespaces kept as bind-mounted nsfs files in `HostNamespaces.netns_dir`.

Like `ip netns add/delete`, but in any directory, so several simulated hosts (or test runs)
each keep their own set without touching /run/netns.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import threading

from neutrino.linux.host import HostNamespaces

_CLONE_NEWNET = 0x40000000
_MS_BIND = 4096
_MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _bind_new_netns(path: str, errors: list[OSError]) -> None:
    # Runs in a throw-away thread: unshare(CLONE_NEWNET) only moves the calling thread, so
    # the rest of the process stays where it was.
    try:
        if _libc.unshare(_CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"unshare: {os.strerror(err)}")
        if _libc.mount(b"/proc/thread-self/ns/net", path.encode(), b"none", _MS_BIND,
                       None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mount {path}: {os.strerror(err)}")
    except OSError as e:
        errors.append(e)


def is_mounted_namespace(path: str) -> bool:
    """True when `path` is an nsfs mount (a live namespace), not a leftover plain file."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path) or ".").st_dev
    except FileNotFoundError:
        return False


def namespace_exists(host: HostNamespaces, name: str) -> bool:
    return is_mounted_namespace(host.namespace_path(name))


def ensure_namespace(host: HostNamespaces, name: str) -> str:
    """Create the named namespace unless it exists; returns its path."""
    path = host.namespace_path(name)
    if is_mounted_namespace(path):
        return path
    os.makedirs(host.netns_dir, exist_ok=True)
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o444))
    except FileExistsError:
        pass  # a leftover mount point of a crashed run: reuse it
    errors: list[OSError] = []
    worker = threading.Thread(target=_bind_new_netns, args=(path, errors), daemon=True)
    worker.start()
    worker.join()
    if errors:
        _remove_file(path)
        raise errors[0]
    return path


def delete_namespace(host: HostNamespaces, name: str) -> bool:
    """Remove the named namespace if it is there; True when something was removed."""
    path = host.namespace_path(name)
    if not os.path.lexists(path):
        return False
    if _libc.umount2(path.encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # EINVAL: not mounted
            raise OSError(err, f"umount {path}: {os.strerror(err)}")
    _remove_file(path)
    return True


def list_namespaces(host: HostNamespaces, prefix: str = "") -> list[str]:
    try:
        names = os.listdir(host.netns_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def _remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
