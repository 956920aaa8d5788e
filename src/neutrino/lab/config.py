"""The lab's configuration files, as the walk-through writes them: pure text builders.

Values come from the lab (ports, paths, passwords it generated), never from a user's free text,
and each is checked to hold no line break before it lands in a file.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrino.lab.naming import CONTROLLER_ADDRESS, CONTROLNODE, HOST_PHYS_IF, PHYSNET

DEMO_ADMIN = ("admin", "adminpassword", "admin")
DEMO_MEMBER = ("demo", "demopassword", "demo")
VLAN_RANGE = f"{PHYSNET}:1000:2999"
INTERFACE_DRIVER = "neutron.agent.linux.interface.BridgeInterfaceDriver"
RABBIT_PASSWORD = "openstack"


@dataclass(frozen=True)
class Rabbit:
    host: str
    port: int
    user: str
    password: str
    vhost: str


def _ini(sections: list[tuple[str, list[tuple[str, object]]]]) -> str:
    lines: list[str] = []
    for name, items in sections:
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        for key, value in items:
            text = str(value)
            if "\n" in text or "\r" in text:
                raise ValueError(f"{key}: a value holds a line break")
            lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def _rabbit_items(rabbit: Rabbit | None) -> list[tuple[str, object]]:
    if rabbit is None:
        return [("transport_url", "fake://")]
    return [("rabbit_host", rabbit.host), ("rabbit_port", rabbit.port),
            ("rabbit_userid", rabbit.user), ("rabbit_password", rabbit.password),
            ("rabbit_virtual_host", rabbit.vhost)]


def server_conf(*, state_path: str, api_port: int, rabbit: Rabbit | None,
                agent_down_time: int = 5, report_interval: float = 1,
                dhcp_agents_per_network: int = 1, api_workers: int | None = None) -> str:
    """controlnode's neutron.conf (the seed's keys, plus what one machine needs)."""
    default: list[tuple[str, object]] = [
        ("core_plugin", "linuxbridge"),
        *_rabbit_items(rabbit),
        ("allow_overlapping_ips", "True"),
        ("host", CONTROLNODE),
        ("agent_down_time", agent_down_time),
        ("state_path", state_path),
        ("bind_host", "127.0.0.1"),
        ("bind_port", api_port),
        ("auth_strategy", "builtin"),
        ("dhcp_agents_per_network", dhcp_agents_per_network),
        # What the all-in-one's agents read; separate agents get their own files.
        ("interface_driver", INTERFACE_DRIVER),
    ]
    if api_workers is not None:
        default.append(("api_workers", api_workers))
    admin, member = ":".join(DEMO_ADMIN + ("admin",)), ":".join(DEMO_MEMBER + ("member",))
    return _ini([
        ("DEFAULT", default),
        ("AGENT", [("report_interval", report_interval)]),
        ("database", [("connection", f"sqlite:///{state_path}/neutrino.sqlite"),
                      ("retry_interval", 2)]),
        ("identity", [("user", admin), ("user", member)]),
    ])


FIREWALL_DRIVERS = ("noop", "iptables")


def linuxbridge_conf(firewall_driver: str = "noop") -> str:
    """linuxbridge_conf.ini, the same on the controller and every host."""
    return _ini([
        ("vlans", [("tenant_network_type", "vlan"), ("network_vlan_ranges", VLAN_RANGE)]),
        ("linux_bridge", [("physical_interface_mappings", f"{PHYSNET}:{HOST_PHYS_IF}")]),
        ("SECURITYGROUP", [("firewall_driver", firewall_driver)]),
    ])


def host_conf(*, host: str, state_path: str, rabbit: Rabbit, report_interval: float = 1) -> str:
    """A host's neutron.conf: `host = HostA`, `rabbit_host = controlnode`, ..."""
    return _ini([
        ("DEFAULT", [("host", host), *_rabbit_items(rabbit), ("state_path", state_path)]),
        ("AGENT", [("report_interval", report_interval)]),
    ])


def dhcp_agent_ini() -> str:
    return _ini([("DEFAULT", [("interface_driver", INTERFACE_DRIVER)])])


def agent_metrics_ini(bind_host: str, port: int) -> str:
    """An agent's `/metrics`, appended to its own file (each agent of a host has a port)."""
    return _ini([("AGENT", [("metrics_bind_host", bind_host), ("metrics_port", port)])])


def etc_hosts(host: str) -> str:
    """A host's /etc/hosts: itself, and controlnode at the management address."""
    return (f"127.0.0.1\tlocalhost\n127.0.1.1\t{host}\n"
            f"{CONTROLLER_ADDRESS}\t{CONTROLNODE}\n")


def dhclient_script() -> str:
    """dhclient's hook inside a VM: configure eth0's address (nothing else: not the
    machine's resolv.conf, which a VM namespace shares) and print the lease in one line
    to `<script name>.lease` beside the script."""
    return (
        "#!/bin/sh\n"
        "out=\"$(dirname \"$0\")/$(basename \"$0\" .script).lease\"\n"
        "case \"$reason\" in\n"
        "  BOUND|RENEW|REBIND|REBOOT)\n"
        "    ip -4 addr flush dev \"$interface\"\n"
        "    ip addr add \"$new_ip_address/$new_subnet_mask\" dev \"$interface\"\n"
        "    echo \"NEUTRINO_LAB_LEASE $new_ip_address\" > \"$out\" ;;\n"
        "  BOUND6|RENEW6|REBIND6|INFORM6)\n"
        "    if [ -n \"$new_ip6_address\" ]; then\n"
        "      ip -6 addr replace \"$new_ip6_address/$new_ip6_prefixlen\" dev \"$interface\"\n"
        "    fi\n"
        "    echo \"NEUTRINO_LAB_LEASE ${new_ip6_address:--}"
        " dns=$(echo $new_dhcp6_name_servers | tr ' ' ',')\" > \"$out\" ;;\n"
        "esac\n"
        "exit 0\n"
    )


def udhcpc_script() -> str:
    """udhcpc's hook inside a VM: configure eth0 and print the lease in one parseable line."""
    return (
        "#!/bin/sh\n"
        "case \"$1\" in\n"
        "  deconfig) ip -4 addr flush dev \"$interface\" ;;\n"
        "  bound|renew)\n"
        "    ip -4 addr flush dev \"$interface\"\n"
        "    ip addr add \"$ip/${mask:-24}\" dev \"$interface\"\n"
        "    echo \"NEUTRINO_LAB_LEASE $ip\" ;;\n"
        "esac\n"
        "exit 0\n"
    )
