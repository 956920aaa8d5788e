"""Tell a dnsmasq that a lease is over (what dnsmasq's `dhcp_release` utility does).

A deleted port's lease would otherwise keep its IP from the next port that gets it until
the lease expires ("not using configured address ... because it is leased to ..."). The
DHCPRELEASE goes from inside the namespace, bound to dnsmasq's interface, to dnsmasq's own
address there.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

from neutrino.linux.host import HostNamespaces, socket_in

_BOOTREQUEST = 1
_DHCPRELEASE = 7
_MAGIC = bytes((99, 130, 83, 99))


def release_packet(client_ip: str, mac: str, server_ip: str,
                   client_id: bytes | None = None, xid: int | None = None) -> bytes:
    chaddr = bytes.fromhex(mac.replace(":", "")).ljust(16, b"\0")
    header = struct.pack(
        "!BBBBIHH4s4s4s4s16s64s128s", _BOOTREQUEST, 1, 6, 0,
        xid if xid is not None else int.from_bytes(os.urandom(4), "big"), 0, 0,
        ipaddress.IPv4Address(client_ip).packed, b"\0" * 4, b"\0" * 4, b"\0" * 4,
        chaddr, b"\0" * 64, b"\0" * 128)
    options = bytes((53, 1, _DHCPRELEASE, 54, 4)) + ipaddress.IPv4Address(server_ip).packed
    if client_id:
        options += bytes((61, len(client_id))) + client_id
    return header + _MAGIC + options + bytes((255,))


def parse_client_id(text: str | None) -> bytes | None:
    """A lease file's client id column ("01:fa:16:...", or "*" for none)."""
    if not text or text == "*":
        return None
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None


def release(host: HostNamespaces, namespace: str, interface: str, server_ip: str,
            client_ip: str, mac: str, client_id: bytes | None = None) -> None:
    sock = socket_in(host.namespace_path(namespace), socket.AF_INET, socket.SOCK_DGRAM,
                     socket.IPPROTO_UDP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.sendto(release_packet(client_ip, mac, server_ip, client_id), (server_ip, 67))
    finally:
        sock.close()
