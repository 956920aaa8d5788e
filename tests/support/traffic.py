"""Traffic between test "VMs" (network namespaces): ping, a tiny TCP echo listener and its
client, each a real process in the VM's namespace."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass

from support import netns as tn


@dataclass
class Vm:
    name: str
    netns: str
    tap: str
    port_id: str
    mac: str
    ip: str


def run_in(vm: Vm, *argv: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={vm.netns}", *argv], capture_output=True,
                          text=True, timeout=timeout)


def pings(src: Vm, dst: Vm, source_ip: str | None = None) -> bool:
    argv = ["ping", "-c", "1", "-W", "1"]
    if source_ip:
        argv += ["-I", source_ip]
    # A fresh ping process: a new ICMP id, so a new connection for conntrack.
    return run_in(src, *argv, dst.ip).returncode == 0


_LISTENER = textwrap.dedent("""
    import socket, sys
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen(8)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        while True:
            data = c.recv(100)
            if not data:
                break
            c.sendall(b"echo:" + data)
        c.close()
""")

_CONNECT = textwrap.dedent("""
    import socket, sys
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    c.sendall(b"hi")
    print(c.recv(100).decode())
""")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def listen(res: tn.NetnsResources, vm: Vm, port: int) -> None:
    proc = subprocess.Popen(["nsenter", f"--net={vm.netns}", sys.executable, "-c", _LISTENER,
                             str(port)], stdout=subprocess.PIPE, text=True)
    res.defer(lambda: stop(proc))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"


def connects(src: Vm, dst: Vm, port: int) -> bool:
    done = run_in(src, sys.executable, "-c", _CONNECT, dst.ip, str(port))
    return done.returncode == 0 and done.stdout.strip() == "echo:hi"




_ARP_REPLY = textwrap.dedent("""
    import socket, sys
    iface, src_mac, claim_ip, dst_mac, dst_ip = sys.argv[1:]
    mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
    frame = (mac(dst_mac) + mac(src_mac) + b"\\x08\\x06"
             + b"\\x00\\x01\\x08\\x00\\x06\\x04\\x00\\x02"
             + mac(src_mac) + socket.inet_aton(claim_ip)
             + mac(dst_mac) + socket.inet_aton(dst_ip))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    for _ in range(3):
        s.send(frame)
""")


def send_arp_reply(vm: Vm, claim_ip: str, to: Vm) -> None:
    """`vm` tells `to`, unasked, that `claim_ip` is at `vm`'s MAC (an ARP reply)."""
    done = run_in(vm, sys.executable, "-c", _ARP_REPLY, "eth0", vm.mac, claim_ip, to.mac,
                  to.ip)
    assert done.returncode == 0, done.stderr


def neighbour_mac(vm: Vm, ip: str) -> str | None:
    words = tn.ip("neigh", "show", ip, "dev", "eth0", netns=vm.netns).split()
    return words[words.index("lladdr") + 1] if "lladdr" in words else None
