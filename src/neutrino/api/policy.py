"""Authorization with oslo.policy: Neutron's legacy default rules in code, overridable by a
`policy.yaml` (the `[oslo_policy] policy_file` the operator names).

Targets are the resource's attributes plus, for subnets and ports, `network:project_id`,
`network:tenant_id` and `network:shared` of the network they belong to.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from oslo_config import cfg
from oslo_policy import _checks as oslo_checks
from oslo_policy import policy as oslo_policy

from neutrino.core.context import Context
from neutrino.lib.exceptions import PolicyNotAuthorized

ADMIN = "rule:admin_only"
ADVSVC_OR_NET_OWNER = "rule:context_is_advsvc or rule:admin_or_network_owner"

_BASE = {
    "context_is_admin": "role:admin",
    "context_is_advsvc": "role:advsvc",
    "owner": "project_id:%(project_id)s",
    "admin_or_owner": "rule:context_is_admin or rule:owner",
    "admin_only": "rule:context_is_admin",
    "regular_user": "",
    "shared": "field:networks:shared=True",
    "external": "field:networks:router:external=True",
    "network_owner": "project_id:%(network:project_id)s",
    "admin_or_network_owner": "rule:context_is_admin or rule:network_owner",
    "admin_owner_or_network_owner": "rule:owner or rule:admin_or_network_owner",
    "network_device": "field:port:device_owner=~^network:",
}

_RESOURCE_RULES = {
    # networks
    "create_network": "rule:admin_or_owner",
    "create_network:shared": ADMIN,
    "create_network:router:external": ADMIN,
    "create_network:provider:network_type": ADMIN,
    "create_network:provider:physical_network": ADMIN,
    "create_network:provider:segmentation_id": ADMIN,
    "create_network:segments": ADMIN,
    "get_network": "rule:admin_or_owner or rule:shared or rule:external or "
                   "rule:context_is_advsvc",
    "get_network:router:external": "rule:regular_user",
    "get_network:provider:network_type": ADMIN,
    "get_network:provider:physical_network": ADMIN,
    "get_network:provider:segmentation_id": ADMIN,
    "get_network:segments": ADMIN,
    "update_network": "rule:admin_or_owner",
    "update_network:shared": ADMIN,
    "update_network:router:external": ADMIN,
    "update_network:provider:network_type": ADMIN,
    "update_network:provider:physical_network": ADMIN,
    "update_network:provider:segmentation_id": ADMIN,
    "update_network:segments": ADMIN,
    "delete_network": "rule:admin_or_owner",
    # subnets
    "create_subnet": "rule:admin_or_network_owner",
    "get_subnet": "rule:admin_or_owner or rule:shared",
    "update_subnet": "rule:admin_or_network_owner",
    "delete_subnet": "rule:admin_or_network_owner",
    # ports
    "create_port": "",
    "create_port:device_owner": "not rule:network_device or " + ADVSVC_OR_NET_OWNER,
    "create_port:mac_address": ADVSVC_OR_NET_OWNER,
    "create_port:fixed_ips": "",
    "create_port:fixed_ips:ip_address": ADVSVC_OR_NET_OWNER,
    "create_port:fixed_ips:subnet_id": ADVSVC_OR_NET_OWNER + " or rule:shared",
    "create_port:binding:host_id": ADMIN,
    "create_port:binding:profile": ADMIN,
    "create_port:binding:vnic_type": "rule:admin_or_owner",
    "get_port": "rule:context_is_advsvc or rule:admin_owner_or_network_owner",
    "get_port:binding:vif_type": ADMIN,
    "get_port:binding:vif_details": ADMIN,
    "get_port:binding:host_id": ADMIN,
    "get_port:binding:profile": ADMIN,
    "get_port:binding:vnic_type": "rule:admin_or_owner",
    "update_port": "rule:admin_or_owner or rule:context_is_advsvc",
    "update_port:device_owner": "not rule:network_device or " + ADVSVC_OR_NET_OWNER,
    "update_port:mac_address": "rule:admin_only or rule:context_is_advsvc",
    "update_port:fixed_ips": "",
    "update_port:fixed_ips:ip_address": ADVSVC_OR_NET_OWNER,
    "update_port:fixed_ips:subnet_id": ADVSVC_OR_NET_OWNER + " or rule:shared",
    "update_port:binding:host_id": ADMIN,
    "update_port:binding:profile": ADMIN,
    "update_port:binding:vnic_type": "rule:admin_or_owner",
    "delete_port": "rule:context_is_advsvc or rule:admin_owner_or_network_owner",
    # port-security and allowed-address-pairs
    "create_port:port_security_enabled": ADVSVC_OR_NET_OWNER,
    "update_port:port_security_enabled": ADVSVC_OR_NET_OWNER,
    "create_port:allowed_address_pairs": "rule:admin_or_network_owner",
    "update_port:allowed_address_pairs": "rule:admin_or_network_owner",
    # security groups and their rules
    **{f"{action}_{resource}": "rule:admin_or_owner"
       for action in ("create", "get", "update", "delete")
       for resource in ("security_group", "security_group_rule")},
    # tags (standard-attr-tag): Neutron's `<action>_<collection>_tags`, checked on the
    # resource's own target; reading as reading the resource, changing as updating it.
    **{f"get_{plural}_tags": rule for plural, rule in (
        ("networks", "rule:admin_or_owner or rule:shared or rule:external or "
                     "rule:context_is_advsvc"),
        ("subnets", "rule:admin_or_owner or rule:shared"),
        ("ports", "rule:context_is_advsvc or rule:admin_owner_or_network_owner"))},
    **{f"{action}_{plural}_tags": rule
       for action in ("create", "update", "delete")
       for plural, rule in (("networks", "rule:admin_or_owner"),
                            ("subnets", "rule:admin_or_network_owner"),
                            ("ports", "rule:admin_or_owner or rule:context_is_advsvc"))},
    # port bindings (binding-extended)
    "get_port_binding": ADMIN,
    "create_port_binding": ADMIN,
    "delete_port_binding": ADMIN,
    "activate": ADMIN,
    # agents and the DHCP agent scheduler
    "get_agent": ADMIN,
    "create_agent": ADMIN,
    "update_agent": ADMIN,
    "delete_agent": ADMIN,
    "create_dhcp-network": ADMIN,
    "get_dhcp-networks": ADMIN,
    "delete_dhcp-network": ADMIN,
    "get_dhcp-agents": ADMIN,
    # availability zones
    "get_availability_zone": "rule:regular_user",
    # quotas (a project's own quota is read without a check: see api/quotas.py)
    "get_quota": ADMIN,
    "update_quota": ADMIN,
    "delete_quota": ADMIN,
}


@oslo_policy.register("field")
class FieldCheck(oslo_policy.Check):
    """Neutron's `field:<collection>:<attribute>=<value>` check (`=~<regex>` matches a
    regular expression), so operators' policy files using it keep working."""

    def __init__(self, kind: str, match: str) -> None:
        super().__init__(kind, match)
        _collection, _, condition = match.partition(":")
        self.field, _, value = condition.partition("=")
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target: Mapping[str, Any], cred: Any, enforcer: Any,
                 current_rule: str | None = None) -> bool:
        actual = target.get(self.field)
        if actual is None:
            return False
        if self.regex is not None:
            return bool(self.regex.match(str(actual)))
        return str(actual).lower() == self.value.lower()


def default_rules() -> list[oslo_policy.RuleDefault]:
    rules = {**_BASE, **_RESOURCE_RULES}
    return [oslo_policy.RuleDefault(name, check) for name, check in rules.items()]


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def credentials(ctx: Context) -> dict[str, Any]:
    return {"user_id": ctx.user_id, "project_id": ctx.project_id,
            "tenant_id": ctx.project_id, "roles": list(ctx.roles), "is_admin": ctx.is_admin}


# Seconds between looks at the policy file for changes.
RELOAD_INTERVAL = 1.0
# Policy decisions remembered (callers x rules x the target values they read); past this,
# forgotten all at once.
MAX_DECISIONS = 16384
_TARGET_REF = re.compile(r"%\((.+?)\)s")
_RULE_REF = re.compile(r"rule:([^\s()]+)")
_PURE = (oslo_checks.TrueCheck, oslo_checks.FalseCheck, oslo_checks.RoleCheck)


def _target_fields(check: Any, rules: Any, seen: frozenset[str] = frozenset()
                   ) -> set[str] | None:
    """The target keys a rule reads, or None when that cannot be known (a check type we
    do not know, e.g. http:), in which case its results are not memoised."""
    if isinstance(check, oslo_checks.AndCheck | oslo_checks.OrCheck):
        fields: set[str] = set()
        for sub in check.rules:
            found = _target_fields(sub, rules, seen)
            if found is None:
                return None
            fields |= found
        return fields
    if isinstance(check, oslo_checks.NotCheck):
        return _target_fields(check.rule, rules, seen)
    if isinstance(check, oslo_checks.RuleCheck):
        if check.match in seen or check.match not in rules:
            return set()
        return _target_fields(rules[check.match], rules, seen | {check.match})
    if isinstance(check, FieldCheck):
        return {check.field}
    if isinstance(check, (oslo_checks.GenericCheck, *_PURE)):
        return set(_TARGET_REF.findall(str(getattr(check, "match", ""))))
    return None


class _Enforcer(oslo_policy.Enforcer):
    """Looks for a changed policy file at most once a second: oslo.policy searches for the
    file and its policy.d directories on disk at every check (a dozen stat() calls when
    there is no file at all), which cost a tenth of the server's CPU under load."""

    _loaded_at = -RELOAD_INTERVAL
    # Moves whenever the rules in force change (oslo.policy may change them in place).
    generation = 0
    _text: tuple[tuple[str, str], ...] = ()

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if force_reload or not self.rules or now - self._loaded_at >= RELOAD_INTERVAL:
            super().load_rules(force_reload)
            self._loaded_at = now
            text = tuple((name, str(check)) for name, check in self.rules.items())
            if text != self._text:
                self._text = text
                self.generation += 1


class Policy:
    """Policy checks for one server. `policy_file` (YAML or JSON) overrides the defaults;
    it is re-read when it changes, as oslo.policy does."""

    def __init__(self, policy_file: str | None = None) -> None:
        # A private ConfigOpts: the enforcer needs one for its own options, and nothing
        # here may read the process-wide configuration.
        conf = cfg.ConfigOpts()
        conf([], project="neutrino", default_config_files=[], default_config_dirs=[])
        self._enforcer = _Enforcer(
            conf, policy_file=policy_file or "/nonexistent/neutrino-policy.yaml")
        self._enforcer.register_defaults(default_rules())
        self._generation = -1
        self._fields: dict[str, tuple[str, ...] | None] = {}
        self._decisions: dict[tuple[Any, ...], bool] = {}
        # What is_default and reads found, per rule: both walk the rules' text.
        self._defaults: dict[str, bool] = {}
        self._reads: dict[str, frozenset[str] | None] = {}

    def _sync(self) -> None:
        """The rules in force, and every memo forgotten when they changed."""
        self._enforcer.load_rules()
        if self._generation != self._enforcer.generation:
            self._generation = self._enforcer.generation
            self._fields, self._decisions, self._defaults, self._reads = {}, {}, {}, {}

    @property
    def generation(self) -> int:
        """Moves whenever the rules in force change: what callers key their own memos on."""
        self._sync()
        return self._generation

    def _decide(self, action: str, target: dict[str, Any], ctx: Context) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dict credentials are fine for us
            return bool(self._enforcer.enforce(action, target, credentials(ctx)))

    def check(self, action: str, target: dict[str, Any], ctx: Context) -> bool:
        """Memoised on the caller and the target values the rule reads: a decision is a
        function of those and the rules (the memo goes when they change), and oslo.policy
        spends most of a request's policy time inspecting its checks' signatures."""
        self._sync()
        if action not in self._fields:
            rules = self._enforcer.rules
            found = _target_fields(rules[action], rules) if action in rules else None
            self._fields[action] = tuple(sorted(found)) if found is not None else None
        keys = self._fields[action]
        if keys is None:
            return self._decide(action, target, ctx)
        try:
            key = (action, ctx, *(_hashable(target.get(k)) for k in keys))
            decided = self._decisions.get(key)
        except TypeError:  # a value we cannot hash: decided afresh
            return self._decide(action, target, ctx)
        if decided is None:
            if len(self._decisions) >= MAX_DECISIONS:
                self._decisions.clear()
            decided = self._decisions[key] = self._decide(action, target, ctx)
        return decided

    def checker(self, ctx: Context) -> Callable[[str, dict[str, Any]], bool]:
        """`check` for one caller over many targets (a list): the rules as they are now,
        and the decisions remembered for this caller alone, without `check`'s look at the
        policy file and its wider key on every row."""
        self._sync()
        fields = self._fields
        decided: dict[tuple[Any, ...], bool] = {}

        def check(action: str, target: dict[str, Any]) -> bool:
            keys = fields.get(action)
            if keys is not None:
                try:
                    key = (action, *(target.get(k) for k in keys))
                    found = decided.get(key)
                except TypeError:  # a list or dict value: check turns it hashable
                    return self.check(action, target, ctx)
                if found is None:
                    found = decided[key] = self.check(action, target, ctx)
                return found
            return self.check(action, target, ctx)
        return check

    def is_default(self, name: str) -> bool:
        """Whether rule `name`, and every rule it refers to, is Neutrino's default (no
        policy file overrides it): lists may then trust core's SQL visibility, which
        implements the default get_* rules, instead of checking each row."""
        self._sync()
        found = self._defaults.get(name)
        if found is None:
            found = self._defaults[name] = self._is_default(name)
        return found

    def _is_default(self, name: str) -> bool:
        rules, registered = self._enforcer.rules, self._enforcer.registered_rules
        pending, seen = [name], set()
        while pending:
            rule = pending.pop()
            if rule in seen:
                continue
            seen.add(rule)
            if rule not in rules or rule not in registered or \
                    str(rules[rule]) != str(registered[rule].check):
                return False
            pending += _RULE_REF.findall(str(rules[rule]))
        return True

    def reads(self, name: str) -> frozenset[str] | None:
        """The target keys rule `name` reads (None: unknown, e.g. an http: check)."""
        self._sync()
        if name not in self._reads:
            rules = self._enforcer.rules
            found = _target_fields(rules[name], rules) if name in rules else set()
            self._reads[name] = None if found is None else frozenset(found)
        return self._reads[name]

    def holds_for_any_target(self, name: str,
                             check: Callable[[str, dict[str, Any]], bool]) -> bool:
        """Whether rule `name` holds for `check`'s caller whatever the target: it names,
        or is an `or` (or `and`) of, rules that read nothing of the target and hold (an
        admin's `rule:admin_or_owner`: its `rule:context_is_admin` branch). False when
        that cannot be told from the rules' structure alone (a `not`, a check reading the
        target): the target then decides, as before."""
        self._sync()
        return self._always(self._enforcer.rules.get(name), check, frozenset({name}))

    def _always(self, rule: Any, check: Callable[[str, dict[str, Any]], bool],
                seen: frozenset[str]) -> bool:
        if isinstance(rule, oslo_checks.OrCheck):
            return any(self._always(sub, check, seen) for sub in rule.rules)
        if isinstance(rule, oslo_checks.AndCheck):
            return all(self._always(sub, check, seen) for sub in rule.rules)
        if isinstance(rule, oslo_checks.RuleCheck):
            name = rule.match
            if name in seen or name not in self._enforcer.rules:
                return False
            if self.reads(name) == frozenset():
                return check(name, {})
            return self._always(self._enforcer.rules[name], check, seen | {name})
        return False

    def enforce(self, action: str, target: dict[str, Any], ctx: Context) -> None:
        if not self.check(action, target, ctx):
            raise PolicyNotAuthorized(action=action)

    def has_rule(self, name: str) -> bool:
        """Attribute rules apply only where defined, as in Neutron."""
        self._enforcer.load_rules()
        return name in self._enforcer.rules

    def is_admin(self, ctx: Context) -> bool:
        return self.check("context_is_admin", {}, ctx)
