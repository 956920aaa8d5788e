"""Security groups on a Linux bridge host: what is installed (read back from the tools'
save formats), the difference from the planned ruleset, and the restore inputs that apply
it. Pure functions.

Every managed iptables chain starts with a comment rule holding a digest of its rules, so
"is this chain right" is a comparison of digests and rule counts, whatever spelling
`iptables-save` prints rules in (ebtables has no comments: its chains are written in the
spelling `ebtables-save` prints, and their saved lines digested). Only chains whose digest
differs are rewritten, each whole and atomically (`--noflush`: nothing else is touched).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from neutrino.agent.linuxbridge.firewall_plan import (
    EB,
    IPV4,
    IPV6,
    TABLE_FAMILIES,
    IpSet,
    Ruleset,
    canonical_member,
    hooks,
    is_managed_chain,
    is_managed_set,
)

MARKER = "neutrino:"


@dataclass(frozen=True)
class InstalledChain:
    digest: str | None  # from the chain's marker rule; None: no marker
    rules: int  # rules after the marker


@dataclass(frozen=True)
class Installed:
    chains: Mapping[tuple[str, str], InstalledChain] = field(default_factory=dict)
    hooks: frozenset[tuple[str, str]] = frozenset()  # (family, builtin chain) jumping to us
    sets: Mapping[str, IpSet] = field(default_factory=dict)


@dataclass(frozen=True)
class Changes:
    """What to do, in this order: sets, chains and hooks (one restore per family), then
    chains and sets nothing refers to any more."""

    create_sets: tuple[tuple[str, str], ...] = ()  # (name, family)
    add_members: tuple[tuple[str, str], ...] = ()  # (set, member)
    remove_members: tuple[tuple[str, str], ...] = ()
    # family -> chain -> its full rules (marker first), rewritten whole
    write_chains: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    add_hooks: tuple[tuple[str, str], ...] = ()  # (family, builtin chain)
    delete_chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    destroy_sets: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.create_sets or self.add_members or self.remove_members
                    or self.write_chains or self.add_hooks or self.delete_chains
                    or self.destroy_sets)


def digest(rules: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(rules).encode()).hexdigest()[:20]


def marker_rule(rules: Sequence[str]) -> str:
    return f'-m comment --comment "{MARKER}{digest(rules)}"'


# -- the difference ---------------------------------------------------------------------

def diff(desired: Ruleset, installed: Installed) -> Changes:
    create_sets: list[tuple[str, str]] = []
    add: list[tuple[str, str]] = []
    remove: list[tuple[str, str]] = []
    destroy: list[str] = []
    for name, want in sorted(desired.sets.items()):
        have = installed.sets.get(name)
        if have is not None and have.family != want.family:
            destroy.append(name)  # cannot be: a name says its family; be safe anyway
            have = None
        if have is None:
            create_sets.append((name, want.family))
            have = IpSet(want.family, frozenset())
        add += [(name, m) for m in sorted(want.members - have.members)]
        remove += [(name, m) for m in sorted(have.members - want.members)]
    destroy += sorted(n for n in installed.sets if n not in desired.sets)

    write: dict[str, dict[str, tuple[str, ...]]] = {}
    delete: dict[str, list[str]] = {}
    for (family, chain), rules in sorted(desired.chains.items()):
        have_chain = installed.chains.get((family, chain))
        if have_chain is None or have_chain.digest != digest(rules) or \
                have_chain.rules != len(rules):
            write.setdefault(family, {})[chain] = \
                tuple(rules) if family == EB else (marker_rule(rules), *rules)
    for family, chain in sorted(installed.chains):
        if (family, chain) not in desired.chains:
            delete.setdefault(family, []).append(chain)
    add_hooks = tuple((family, builtin) for family in TABLE_FAMILIES
                      for builtin, chain in sorted(hooks(family).items())
                      if (family, chain) in desired.chains
                      and (family, builtin) not in installed.hooks)
    return Changes(tuple(create_sets), tuple(add), tuple(remove),
                   {f: dict(c) for f, c in write.items()}, add_hooks,
                   {f: tuple(c) for f, c in delete.items()}, tuple(destroy))


def restore_text(changes: Changes, family: str) -> str:
    """The iptables-restore (ebtables-restore for EB) --noflush input for `family`: declaring
    a chain empties it, so each rewritten chain is replaced whole and atomically, and nothing
    else is touched."""
    writes = changes.write_chains.get(family, {})
    deletes = changes.delete_chains.get(family, ())
    builtins = [builtin for f, builtin in changes.add_hooks if f == family]
    if not (writes or deletes or builtins):
        return ""
    policy = "RETURN" if family == EB else "- [0:0]"
    lines = ["*filter"]
    lines += [f":{chain} {policy}" for chain in sorted({*writes, *deletes})]
    for chain, rules in writes.items():
        lines += [f"-A {chain} {rule}" for rule in rules]
    lines += [f"-I {builtin} 1 -j {hooks(family)[builtin]}" for builtin in builtins]
    # Emptied above, so nothing refers to them when they go.
    lines += [f"-X {chain}" for chain in deletes]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def ipset_text(changes: Changes) -> str:
    """`ipset restore` input for the set changes made before the chains."""
    lines = [f"create {name} hash:net family {'inet' if family == IPV4 else 'inet6'}"
             for name, family in changes.create_sets]
    lines += [f"add {name} {member}" for name, member in changes.add_members]
    lines += [f"del {name} {member}" for name, member in changes.remove_members]
    return "\n".join(lines) + "\n" if lines else ""


def parse_save(text: str, family: str) -> tuple[dict[tuple[str, str], InstalledChain],
                                                 set[tuple[str, str]]]:
    """Our chains and hooks in `iptables-save` (or `ebtables-save`) output, filter table."""
    chains: dict[str, list[str]] = {}
    jumps: set[tuple[str, str]] = set()
    table = None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if table != "filter":
            continue
        if line.startswith(":"):
            name = line[1:].split()[0]
            if is_managed_chain(name):
                chains.setdefault(name, [])
        elif line.startswith("-A "):
            parts = line.split(None, 2)
            name = parts[1]
            rest = parts[2] if len(parts) > 2 else ""
            if name in chains:
                chains[name].append(rest)
            elif name in hooks(family) and rest.split() == ["-j", hooks(family)[name]]:
                jumps.add((family, name))
    installed: dict[tuple[str, str], InstalledChain] = {}
    for name, rules in chains.items():
        found = None
        if family == EB:
            installed[(family, name)] = InstalledChain(digest(rules), len(rules))
            continue
        if rules and f'"{MARKER}' in rules[0]:
            found = rules[0].split(f'"{MARKER}', 1)[1].split('"', 1)[0]
        installed[(family, name)] = InstalledChain(found, len(rules) - (1 if found else 0))
    return installed, jumps


def parse_ipset_save(text: str) -> dict[str, IpSet]:
    families: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "create" and is_managed_set(words[1]):
            family = words[words.index("family") + 1] if "family" in words else "inet"
            families[words[1]] = IPV4 if family == "inet" else IPV6
            members[words[1]] = set()
        elif len(words) >= 3 and words[0] == "add" and words[1] in members:
            members[words[1]].add(canonical_member(words[2]))
    return {name: IpSet(families[name], frozenset(members[name])) for name in families}


def installed_from(saves: Mapping[str, str], ipsets: str) -> Installed:
    """`saves`: family -> iptables-save / ip6tables-save output."""
    chains: dict[tuple[str, str], InstalledChain] = {}
    hooks: set[tuple[str, str]] = set()
    for family, text in saves.items():
        found, jumps = parse_save(text, family)
        chains.update(found)
        hooks |= jumps
    return Installed(chains, frozenset(hooks), parse_ipset_save(ipsets))


def applied(installed: Installed, desired: Ruleset) -> Installed:
    """What is installed once the diff between them was applied (no need to read it back)."""
    chains = {key: InstalledChain(digest(rules), len(rules))
              for key, rules in desired.chains.items()}
    jumps = frozenset(installed.hooks | {(f, b) for f in TABLE_FAMILIES
                                         for b, chain in hooks(f).items()
                                         if (f, chain) in desired.chains})
    return Installed(chains, jumps, dict(desired.sets))
