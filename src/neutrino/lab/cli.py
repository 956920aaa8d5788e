"""`neutrino-lab` (and `neutrino lab ...`, `neutrino demo ...`): the lab's command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable

from neutrino.lab.api import ApiError, Credentials, NetworkApi
from neutrino.lab.config import DEMO_ADMIN, FIREWALL_DRIVERS
from neutrino.lab.lab import AGENTS, DEFAULT_HOSTS, TRANSPORTS, Lab, LabError
from neutrino.lab.naming import LabNameError, LabNames
from neutrino.lab.system import CommandError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", default=os.environ.get("NEUTRINO_LAB", "lab"),
                   help="the lab's name (default: $NEUTRINO_LAB or 'lab')")
    p.add_argument("--run-base", default="/run/neutrino-lab", help=argparse.SUPPRESS)
    p.add_argument("--state-base", default="/var/lib/neutrino-lab", help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neutrino-lab",
                                     description="Three hosts on one machine, and the demo.")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="build the lab (cleans a previous one first)")
    _common(up)
    up.add_argument("--transport", choices=TRANSPORTS,
                    help="default: rabbit when RabbitMQ answers on 127.0.0.1:5672 "
                         "and rabbitmqctl is installed")
    up.add_argument("--host", action="append", dest="hosts",
                    help=f"a host to create (repeatable; default {' '.join(DEFAULT_HOSTS)})")
    up.add_argument("--no-services", action="store_true",
                    help="namespaces and links only: no server, agents or forwarder")
    up.add_argument("--firewall", choices=FIREWALL_DRIVERS, default="noop",
                    help="the Linux bridge agents' [SECURITYGROUP] firewall_driver: "
                         "iptables enforces security groups on the hosts (default noop)")
    up.add_argument("--agent-metrics-port", type=int, metavar="PORT",
                    help="agents serve /metrics on their management address: the DHCP "
                         "agent on PORT, the Linux bridge agent on PORT+1 (rabbit only)")
    for name, text in (("status", "what the lab holds"), ("down", "remove everything")):
        _common(sub.add_parser(name, help=text))

    host = sub.add_parser("host", help="add a host, stop/start its agents")
    hsub = host.add_subparsers(dest="host_command", required=True)
    for name, text in (("add", "add a host (HostC ...) with its agents"),
                       ("stop-dhcp", "stop the DHCP agent and its dnsmasq"),
                       ("start-dhcp", "start the DHCP agent"),
                       ("stop-agent", "stop an agent (dnsmasq keeps running)"),
                       ("start-agent", "start an agent")):
        p = hsub.add_parser(name, help=text)
        _common(p)
        p.add_argument("host")
        if name in ("stop-agent", "start-agent"):
            p.add_argument("--agent", choices=AGENTS, default="dhcp")

    metrics = sub.add_parser("metrics", help="an agent's /metrics, read over the "
                                              "management network")
    _common(metrics)
    metrics.add_argument("host")
    metrics.add_argument("--agent", choices=AGENTS, default="dhcp")

    vm = sub.add_parser("vm", help="VMs: boot, list, dhcp, exec, delete")
    vsub = vm.add_subparsers(dest="vm_command", required=True)
    boot = vsub.add_parser("boot", help="like nova boot")
    _common(boot)
    boot.add_argument("vm")
    boot.add_argument("--nic", required=True, help="net-id=NETWORK_ID")
    boot.add_argument("--host", required=True)
    _common(vsub.add_parser("list", help="like nova list"))
    for name, text in (("dhcp", "run a DHCP client once in the VM"),
                       ("delete", "delete the VM")):
        p = vsub.add_parser(name, help=text)
        _common(p)
        p.add_argument("vm")
        if name == "dhcp":
            p.add_argument("--client", choices=("udhcpc", "dhclient"),
                           help="default: udhcpc, dhclient with -6")
            p.add_argument("-6", dest="ipv6", action="store_true", help="DHCPv6 (dhclient)")
            p.add_argument("-S", dest="stateless", action="store_true",
                           help="with -6: information only (DHCPv6 stateless)")
    run_in = vsub.add_parser("exec", help="run a command in the VM: vm exec NAME -- CMD ...")
    _common(run_in)
    run_in.add_argument("vm")
    run_in.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD")

    demo = sub.add_parser("demo", help="the whole DHCP HA walk-through")
    _common(demo)
    demo.add_argument("--transport", choices=TRANSPORTS)
    demo.add_argument("--step", action="store_true", help="pause for Enter between steps")
    demo.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    return parser


def _api(lab: Lab) -> NetworkApi:
    user, password, project = DEMO_ADMIN
    return NetworkApi(Credentials(lab.api_url, user, password, project))


def _nic(text: str) -> str:
    key, _, value = text.partition("=")
    if key != "net-id" or not value:
        raise LabError(f"--nic {text!r}: expected net-id=NETWORK_ID")
    return value


def _run(args: argparse.Namespace) -> int:
    names = LabNames(args.name, args.run_base, args.state_base)
    lab = Lab(names)
    if args.command == "up":
        lab.up(args.transport, tuple(args.hosts or DEFAULT_HOSTS),
               services=not args.no_services, agent_metrics_port=args.agent_metrics_port,
               firewall_driver=args.firewall)
        print(json.dumps(lab.status(), indent=2))
    elif args.command == "status":
        print(json.dumps(lab.status(), indent=2))
    elif args.command == "down":
        lab.down()
        left = lab.leftovers()
        if left:
            print("left behind: " + ", ".join(left), file=sys.stderr)
            return 1
    elif args.command == "host":
        action: dict[str, Callable[[], object]] = {"add": lambda: lab.add_host(args.host),
                  "stop-dhcp": lambda: lab.stop_dhcp(args.host),
                  "start-dhcp": lambda: lab.start_dhcp(args.host),
                  "stop-agent": lambda: lab.stop_agent(args.host, args.agent),
                  "start-agent": lambda: lab.start_agent(args.host, args.agent)}
        action[args.host_command]()
    elif args.command == "metrics":
        try:
            print(lab.scrape_agent(args.host, args.agent), end="")
        except OSError as e:
            raise LabError(f"{lab.agent_metrics_url(args.host, args.agent)}: {e}") from e
    elif args.command == "vm":
        from neutrino.lab.vm import Vms, nova_table
        vms = Vms(lab, _api(lab))
        if args.vm_command == "boot":
            rec = vms.boot(args.vm, _nic(args.nic), args.host)
            print(f"{rec.name} {rec.id} port {rec.port_id} on {rec.host}")
        elif args.vm_command == "list":
            print(nova_table(vms.rows()))
        elif args.vm_command == "dhcp":
            if args.stateless and not args.ipv6:
                raise LabError("-S goes with -6")
            address = vms.dhcp(args.vm, client=args.client, ipv6=args.ipv6,
                               stateless=args.stateless)
            if address is None:
                print(f"{args.vm}: no DHCP lease")
                return 1
            got = address.removeprefix("- ")  # "-": no address (information only)
            print(f"{args.vm}: got {got}" if got == address else f"{args.vm}: options {got}")
        elif args.vm_command == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise LabError("vm exec NAME -- CMD [ARG ...]: no command given")
            return vms.exec(args.vm, argv)
        elif args.vm_command == "delete":
            vms.delete(args.vm)
    elif args.command == "demo":
        from neutrino.lab.demo import run_demo
        return run_demo(lab, transport=args.transport, step=args.step, keep=args.keep)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "lab":  # `neutrino lab ...`; `neutrino demo` keeps its word
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return _run(args)
    except (LabError, LabNameError, ApiError, CommandError, TimeoutError) as e:
        print(f"neutrino-lab: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
