"""`neutrino-server --config-check`: what is wrong with this configuration, before starting.

Reports, one line each: options this server does not know in the sections it reads (a typo
there is silently ignored otherwise; sections of other services are fine and listed as
ignored), values oslo.config or the settings refuse, and a database or broker that does
not answer. Exits 1 when there is any problem, 0 otherwise.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from typing import TextIO

from oslo_config import cfg

from neutrino.conf.settings import ConfigError, database_settings, rpc_settings

Check = Callable[[cfg.ConfigOpts], None]


def known_keys(groups: Iterable[tuple[str | None, Iterable[cfg.Opt]]]
               ) -> dict[str, set[str]]:
    """section -> option names a file may use there (deprecated spellings included)."""
    known: dict[str, set[str]] = {}
    for group, options in groups:
        section = group or "DEFAULT"
        for opt in options:
            known.setdefault(section, set()).update({opt.name, opt.dest})
            for old in opt.deprecated_opts:
                old_section = old.group or section
                known.setdefault(old_section, set()).add(old.name or opt.name)
    return known


def config_files(conf: cfg.ConfigOpts) -> list[str]:
    files = list(conf.config_file or [])
    for directory in conf.config_dir or []:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    return files


def unknown_options(files: Iterable[str], known: dict[str, set[str]]
                    ) -> tuple[list[str], list[str]]:
    """(problems, notes): keys no one reads in sections we read; sections we ignore."""
    problems: list[str] = []
    notes: list[str] = []
    for path in files:
        sections: dict[str, dict[str, list[str]]] = {}
        cfg.ConfigParser(path, sections).parse()
        for section, keys in sections.items():
            if section not in known:
                notes.append(f"{path}: [{section}] is not read by neutrino-server (ignored)")
                continue
            for key in sorted(keys):
                if key not in known[section]:
                    problems.append(f"{path}: [{section}] {key}: unknown option")
    return problems, notes


def bad_values(conf: cfg.ConfigOpts, groups: Iterable[tuple[str | None, Iterable[cfg.Opt]]]
               ) -> list[str]:
    """Every registered option read once: oslo.config converts (and refuses) values lazily."""
    problems = []
    for group, options in groups:
        for opt in options:
            try:
                conf[group][opt.dest] if group else conf[opt.dest]
            except (cfg.Error, ValueError) as exc:
                problems.append(f"[{group or 'DEFAULT'}] {opt.dest}: {exc}")
    return problems


def run(conf: cfg.ConfigOpts, groups: list[tuple[str | None, list[cfg.Opt]]],
        check_settings: Check, out: TextIO) -> int:
    from neutrino.core.health import DatabaseProbe
    from neutrino.db.engine import Database
    from neutrino.rpc.health import BrokerProbe

    problems, notes = unknown_options(config_files(conf), known_keys(groups))
    values = bad_values(conf, groups)
    problems += values
    if not values:  # a value oslo.config refused would be reported twice
        try:
            check_settings(conf)
        except (ConfigError, cfg.Error, ValueError) as exc:
            problems.append(f"invalid setting: {exc}")
    if not problems:  # reaching services with values known to be bad tells nothing
        db = Database(database_settings(conf))
        try:
            for probe in (DatabaseProbe(db), BrokerProbe(rpc_settings(conf).transport_url)):
                try:
                    notes.append(f"{probe.name}: reachable ({probe()})")
                except Exception as exc:  # noqa: BLE001 - each failure is one report line
                    problems.append(f"{probe.name}: unreachable: {type(exc).__name__}: {exc}")
        finally:
            db.dispose()
    for line in notes:
        print(f"note: {line}", file=out)
    for line in problems:
        print(f"ERROR: {line}", file=out)
    print("configuration OK" if not problems else f"{len(problems)} problem(s)", file=out)
    return 1 if problems else 0
