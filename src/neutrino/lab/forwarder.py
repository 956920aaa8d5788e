"""Forwards TCP connections from a lab namespace to services on the root's loopback.

The server and RabbitMQ listen on 127.0.0.1 in the root namespace; hosts reach them at the
controller's management address. A socket belongs to the namespace it was created in and
setns() is per thread: a short-lived thread enters the management namespace and creates the
listening sockets there; the main thread (still in the root namespace) accepts and connects
out to 127.0.0.1.

    python -m neutrino.lab.forwarder --netns PATH LISTEN_ADDR:PORT=TARGET_PORT ...
"""

from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _setns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(netns: str, work: Callable[[], T]) -> T:
    """`work()` inside `netns` without moving the calling thread: the sockets it makes
    belong to that namespace, and keep it after the call returns."""
    result: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _setns(netns)
            result.append(work())
        except BaseException as e:  # handed to the caller's thread
            errors.append(e)

    # The thread ends inside the namespace; the process's other threads never leave the root.
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return result[0]


def listen_in_netns(netns: str, addresses: list[tuple[str, int]]) -> list[socket.socket]:
    """Create listening sockets inside `netns`."""
    def listen() -> list[socket.socket]:
        socks = []
        for host, port in addresses:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
            s.listen(128)
            socks.append(s)
        return socks
    return in_netns(netns, listen)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def _serve_connection(client: socket.socket, target_port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", target_port), timeout=10)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
    back.start()
    _pump(client, upstream)
    back.join()
    client.close()
    upstream.close()


def serve(listeners: list[tuple[socket.socket, int]]) -> None:
    sel = selectors.DefaultSelector()
    for sock, target in listeners:
        sel.register(sock, selectors.EVENT_READ, target)
    while True:
        for key, _ in sel.select():
            try:
                client, _addr = key.fileobj.accept()  # type: ignore[union-attr]
            except OSError:
                continue
            threading.Thread(target=_serve_connection, args=(client, key.data),
                             daemon=True).start()


def parse_mapping(text: str) -> tuple[str, int, int]:
    listen, _, target = text.partition("=")
    host, _, port = listen.rpartition(":")
    if not host or not port or not target:
        raise argparse.ArgumentTypeError(f"{text!r} is not ADDR:PORT=TARGET_PORT")
    return host, int(port), int(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neutrino-lab-forwarder")
    parser.add_argument("--netns", required=True, help="network namespace path to listen in")
    parser.add_argument("--ready-file", help="written once every socket listens")
    parser.add_argument("mappings", nargs="+", type=parse_mapping)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    socks = listen_in_netns(args.netns, [(h, p) for h, p, _ in args.mappings])
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(str(os.getpid()))
    serve([(s, t) for s, (_, _, t) in zip(socks, args.mappings, strict=True)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
