"""neutrino-db-manage: schema migrations, as neutron-db-manage.

    neutrino-db-manage --config-file /etc/neutron/neutron.conf upgrade head
    neutrino-db-manage --config-file ... current
    neutrino-db-manage --config-file ... downgrade REV
    neutrino-db-manage --config-file ... adopt-default-security-groups
"""

from __future__ import annotations

import argparse
import sys

from neutrino.conf import opts
from neutrino.conf.settings import database_settings
from neutrino.core.interfaces import SystemClock
from neutrino.core.resources.portsecurity import adopt_ungrouped_ports
from neutrino.core.transaction import Transactions
from neutrino.db.engine import Database, DatabaseUnreachable


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neutrino-db-manage",
                                     description="Manage the Neutrino database schema.")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    parser.add_argument("--config-dir", action="append", default=[], metavar="DIR")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="upgrade the schema (to head by default)")
    up.add_argument("revision", nargs="?", default="head")
    sub.add_parser("current", help="show the database's revision")
    down = sub.add_parser("downgrade", help="downgrade the schema to REV (or base)")
    down.add_argument("revision")
    sub.add_parser("adopt-default-security-groups",
                   help="put the ports with port security and no security group (those "
                        "made before security groups existed) into their project's "
                        "default group; run once after upgrading, before enabling a "
                        "firewall_driver")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    conf_argv: list[str] = []
    for path in args.config_file:
        conf_argv += ["--config-file", path]
    for path in args.config_dir:
        conf_argv += ["--config-dir", path]
    conf = opts.load(conf_argv, prog="neutrino-db-manage")
    db = Database(database_settings(conf))
    try:
        db.wait_until_reachable()
        if args.command == "upgrade":
            db.upgrade(args.revision)
            print(f"Upgraded to {db.current_revision()}")
        elif args.command == "adopt-default-security-groups":
            count = Transactions(db).run(lambda s: adopt_ungrouped_ports(s, SystemClock()))
            print(f"{count} port(s) put into their project's default security group")
        elif args.command == "downgrade":
            db.downgrade(args.revision)
            print(f"Downgraded to {db.current_revision() or 'base'}")
        else:
            current = db.current_revision()
            head = db.head_revision()
            suffix = " (head)" if current is not None and current == head else ""
            print(f"{current or 'base'}{suffix}")
    except DatabaseUnreachable as exc:
        print(f"neutrino-db-manage: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
