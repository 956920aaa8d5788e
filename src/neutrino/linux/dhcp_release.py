"""Tell a dnsmasq that a lease is over (what dnsmasq's `dhcp_release` and `dhcp_release6`
utilities do).

A deleted port's lease would otherwise keep its IP from the next port that gets it until
the lease expires ("not using configured address ... because it is leased to ..."). The
DHCPRELEASE goes from inside the namespace, bound to dnsmasq's interface, to dnsmasq's own
address there; a DHCPv6 RELEASE to the all-DHCP-servers group on that interface.
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


_RELEASE6 = 8
_ALL_DHCP_SERVERS = "ff02::1:2"


def _option6(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def release6_packet(client_duid: bytes, server_duid: bytes, iaid: int, address: str,
                    xid: int | None = None) -> bytes:
    """RFC 8415 RELEASE of one IA_NA address: client id, server id, IA_NA with the
    address (lifetimes 0)."""
    xid = xid if xid is not None else int.from_bytes(os.urandom(3), "big")
    iaaddr = _option6(5, ipaddress.IPv6Address(address).packed + struct.pack("!II", 0, 0))
    ia_na = _option6(3, struct.pack("!III", iaid, 0, 0) + iaaddr)
    return (bytes((_RELEASE6,)) + xid.to_bytes(3, "big") + _option6(1, client_duid)
            + _option6(2, server_duid) + ia_na)


def release6(host: HostNamespaces, namespace: str, interface: str, address: str,
             iaid: int, client_duid: bytes, server_duid: bytes) -> None:
    sock = socket_in(host.namespace_path(namespace), socket.AF_INET6, socket.SOCK_DGRAM,
                     socket.IPPROTO_UDP)
    try:
        # Bound to dnsmasq's interface, the multicast goes out there and loops back to it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        sock.sendto(release6_packet(client_duid, server_duid, iaid, address),
                    (_ALL_DHCP_SERVERS, 547))
    finally:
        sock.close()
