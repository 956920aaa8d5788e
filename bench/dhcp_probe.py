"""A minimal DHCP client for benchmarks: DHCPDISCOVERs on a raw socket until an OFFER comes.

udhcpc's start-up (exec, nsenter, its script) costs milliseconds that are not dnsmasq's; this
sends a DISCOVER every `interval` seconds from inside a namespace and reports when the first
OFFER for its MAC arrives, so the figure is the agent's and dnsmasq's alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import random
import select
import socket
import struct
import threading
import time

_CLONE_NEWNET = 0x40000000
_ETH_P_IP = 0x0800
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def discover_frame(mac: bytes, xid: int) -> bytes:
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000,
                        b"\0" * 4, b"\0" * 4, b"\0" * 4, b"\0" * 4, mac.ljust(16, b"\0"),
                        b"", b"")
    options = b"\x63\x82\x53\x63" + b"\x35\x01\x01" + b"\x37\x03\x01\x03\x06" + b"\xff"
    payload = bootp + options
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     b"\0" * 4, b"\xff" * 4)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\xff" * 6 + mac + struct.pack("!H", _ETH_P_IP) + ip + udp


def offered_ip(frame: bytes, xid: int) -> str | None:
    """The address a DHCPOFFER for `xid` in this Ethernet frame offers, else None."""
    if len(frame) < 14 + 20 + 8 + 240 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 17:
        return None
    udp = 14 + ihl
    if struct.unpack("!H", frame[udp + 2:udp + 4])[0] != 68:
        return None
    bootp = frame[udp + 8:]
    if bootp[0] != 2 or struct.unpack("!I", bootp[4:8])[0] != xid:
        return None
    opts = bootp[240:]
    i = 0
    while i < len(opts) and opts[i] != 255:
        if opts[i] == 0:
            i += 1
            continue
        code, length = opts[i], opts[i + 1]
        if code == 53 and opts[i + 2] == 2:
            return socket.inet_ntoa(bootp[16:20])
        i += 2 + length
    return None


def packet_socket(netns_path: str, interface: str) -> socket.socket:
    """An AF_PACKET socket on `interface` inside the namespace at `netns_path`."""
    made: list[socket.socket] = []
    errors: list[BaseException] = []

    def enter() -> None:
        try:
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_IP))
            s.bind((interface, 0))
            made.append(s)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors.append(e)

    t = threading.Thread(target=enter, daemon=True)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return made[0]


def wait_for_offer(sock: socket.socket, mac: str, timeout: float = 2.0,
                   interval: float = 0.002) -> tuple[float, str] | None:
    """Send DISCOVERs every `interval` s until an OFFER; (perf_counter when it came, ip)."""
    raw_mac = bytes.fromhex(mac.replace(":", ""))
    xid = random.getrandbits(32)
    frame = discover_frame(raw_mac, xid)
    deadline = time.perf_counter() + timeout
    next_send = 0.0
    while True:
        now = time.perf_counter()
        if now > deadline:
            return None
        if now >= next_send:
            sock.send(frame)
            next_send = now + interval
        ready, _, _ = select.select([sock], [], [], max(0.0, min(next_send, deadline) - now))
        while ready:
            data = sock.recv(2048)
            ip = offered_ip(data, xid)
            if ip:
                return time.perf_counter(), ip
            ready, _, _ = select.select([sock], [], [], 0)
