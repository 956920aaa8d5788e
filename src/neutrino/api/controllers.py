"""What each API call does, between the HTTP edge (app.py) and core: policy checks, the
view of a resource for the caller, list semantics. Synchronous: core is; app.py runs
these in worker threads."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Any, cast

from neutrino.api import listing, request
from neutrino.api.errors import bad_request, not_found
from neutrino.api.jsonbody import Encoded, EncodedItems, EncodedList
from neutrino.api.policy import Policy
from neutrino.core.context import Context
from neutrino.core.services import (
    Collection,
    Creatable,
    PageRequest,
    ResourceService,
    Services,
)
from neutrino.lib import exceptions as exc
from neutrino.lib import validators as v
from neutrino.lib.attributes import (
    AGENT,
    AVAILABILITY_ZONE,
    NETWORK,
    PORT,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SUBNET,
    VNIC_TYPES,
    Resource,
)

Item = dict[str, Any]
Checker = Callable[[str, Item], bool]
# What `_target` adds to a subnet's or port's target from its network.
_NETWORK_KEYS = frozenset({"network:project_id", "network:tenant_id", "network:shared",
                           "shared"})


def _shower(names: builtins.list[str]) -> Callable[[Item, frozenset[str]], Item]:
    """How a list shows an item of which the attributes `hidden` are hidden: as core made
    it when it holds `names` and no more, or else a copy without the rest. What a copy
    drops is worked out on the first item with a given `hidden` and holds for the items
    shaped alike (a list's rows are): a member's list of ports hides the binding attributes
    of every row, and a copy less five keys costs a third of a dict built key by key."""
    wanted = frozenset(names)
    drops: dict[frozenset[str], tuple[frozenset[str], tuple[str, ...]]] = {}

    def show(item: Item, hidden: frozenset[str]) -> Item:
        if not hidden and item.keys() <= wanted:
            return item
        found = drops.get(hidden)
        if found is None:
            keep = wanted - hidden
            found = drops[hidden] = (keep, tuple(name for name in item if name not in keep))
        keep, drop = found
        copy = dict(item)
        try:
            for name in drop:
                del copy[name]
        except KeyError:
            pass
        else:
            if copy.keys() <= keep:
                return copy
        return {name: item[name] for name in names if name in item and name not in hidden}
    return show


class Controller:
    def __init__(self, services: Services, policy: Policy,
                 pagination_max_limit: int = -1) -> None:
        self.services = services
        # Listed in SQL (sorted and paged there) when policy allows.
        self._paged: dict[str, ResourceService] = {
            NETWORK.plural: services.networks, SUBNET.plural: services.subnets,
            PORT.plural: services.ports}
        self._creatable: dict[str, Creatable] = {
            **self._paged, SECURITY_GROUP.plural: services.security_groups,
            SECURITY_GROUP_RULE.plural: services.security_group_rules}
        self._collections: dict[str, Collection] = {**self._creatable,
                                                    AGENT.plural: services.agents}
        self.policy = policy
        self.max_limit = pagination_max_limit
        self._rules_memo: dict[tuple[str, int], dict[str, str]] = {}
        # Core hands out a port's view unchanged while its revision stands (viewmemo), so
        # a list copies the JSON written for it before.
        self._encoded = {PORT.plural: EncodedItems(services.ports.memo.size)}

    # --- policy targets and views ------------------------------------------------------

    def _networks(self, ids: set[Any]) -> dict[str, Item]:
        """What `_target` reads of the networks that subnets/ports belong to (their
        project and sharing), by network id."""
        ids = {i for i in ids if isinstance(i, str)}
        if not ids:
            return {}
        return self.services.networks.policy_targets(ids)

    @staticmethod
    def _target(resource: Resource, item: Item, networks: dict[str, Item]) -> Item:
        target = dict(item)
        if resource in (SUBNET, PORT):
            network = networks.get(item.get("network_id") or "", {})
            target["network:project_id"] = network.get("project_id")
            target["network:tenant_id"] = network.get("project_id")
            target["network:shared"] = network.get("shared", False)
            # "rule:shared" reads `shared`: a subnet or port is shared with its network.
            target["shared"] = network.get("shared", False)
        return target

    def _attr_rule(self, action: str, name: str) -> str | None:
        rule = f"{action}:{name}"
        return rule if self.policy.has_rule(rule) else None

    def _view_rules(self, resource: Resource) -> dict[str, str]:
        """The `get_<resource>:<attr>` rules that exist, looked up once per set of rules
        (the caller must not change the dict)."""
        key = (resource.plural, self.policy.generation)
        rules = self._rules_memo.get(key)
        if rules is None:
            found = {a.name: self._attr_rule(f"get_{resource.singular}", a.name)
                     for a in resource.attributes if a.enforce_policy}
            rules = {name: rule for name, rule in found.items() if rule}
            if len(self._rules_memo) > 64:  # only old generations' entries to forget
                self._rules_memo.clear()
            self._rules_memo[key] = rules
        return rules

    def _plan(self, resource: Resource, fields: list[str] | None, rules: dict[str, str],
              check: Checker) -> list[tuple[str, str | None]]:
        """(attribute, the get rule still to check on each item, or None) for each
        attribute a view may show, worked out once for a list rather than again for every
        row: a rule that reads nothing of the target (the admin-only ones) is decided
        here, once."""
        plan: list[tuple[str, str | None]] = []
        for attr in resource.attributes:
            if not attr.visible or (fields and attr.name not in fields):
                continue
            rule = rules.get(attr.name)
            if rule is not None and self.policy.reads(rule) == frozenset():
                if not check(rule, {}):
                    continue
                rule = None
            elif rule is not None and self.policy.holds_for_any_target(rule, check):
                rule = None  # an admin's admin_or_owner: no row to look at
            plan.append((attr.name, rule))
        return plan

    def view(self, ctx: Context, resource: Resource, item: Item, target: Item,
             fields: list[str] | None = None, rules: dict[str, str] | None = None,
             check: Checker | None = None,
             plan: list[tuple[str, str | None]] | None = None) -> Item:
        rules = self._view_rules(resource) if rules is None else rules
        check = check or self.policy.checker(ctx)
        if plan is None:
            plan = self._plan(resource, fields, rules, check)
        return {name: item[name] for name, rule in plan
                if name in item and (not rule or check(rule, target))}

    def _sql_visibility(self, ctx: Context, resource: Resource) -> bool:
        """Whether core's SQL visibility is exactly what `get_<resource>` lets the caller
        see, so that no row needs a policy check of its own. True for the default rules
        (no policy file changes them or a rule they use): core implements them for
        networks (owner, shared, external) and ports (owner, the network's owner); for
        subnets core also shows those of external networks and of the caller's networks,
        which the rule hides from non-admins. A changed rule takes the per-row path."""
        if resource not in (NETWORK, PORT, SUBNET) or (resource is SUBNET and not ctx.is_admin):
            return False
        return self.policy.is_default(f"get_{resource.singular}")

    def _reads_network(self, rules: dict[str, str]) -> bool:
        """Whether any of `rules` reads the network's attributes that `_target` adds (then
        the network is read; the default view rules do not)."""
        for rule in rules.values():
            keys = self.policy.reads(rule)
            if keys is None or keys & _NETWORK_KEYS:
                return True
        return False

    def _visible(self, ctx: Context, resource: Resource, items: list[Item],
                 check: Checker | None = None) -> list[tuple[Item, Item]]:
        """(item, policy target) for the items `get_<resource>` lets the caller see."""
        check = check or self.policy.checker(ctx)
        networks = {}
        if resource in (SUBNET, PORT):
            networks = self._networks({i.get("network_id") for i in items})
        pairs = []
        for item in items:
            target = self._target(resource, item, networks)
            if check(f"get_{resource.singular}", target):
                pairs.append((item, target))
        return pairs

    # --- generic CRUD -------------------------------------------------------------------

    def list(self, ctx: Context, resource: Resource,
             params: builtins.list[tuple[str, str]],
             url: str) -> Item:
        query = listing.parse_query(resource, params, self.max_limit)
        service = self._paged.get(resource.plural)
        if service is not None and not query.matches_nothing \
                and all(key in service.sort_keys for key, _ in query.sorts) \
                and self._sql_visibility(ctx, resource):
            return self._list_in_sql(ctx, resource, service, query, params, url)
        items = [] if query.matches_nothing else \
            self._collections[resource.plural].list(ctx, query.filters)
        check = self.policy.checker(ctx)
        visible = self._visible(ctx, resource, items, check)
        targets = {id(item): target for item, target in visible}
        page = listing.list_page([item for item, _ in visible], query, resource)
        rules = self._view_rules(resource)
        body: Item = {resource.plural: [
            self.view(ctx, resource, item, targets[id(item)], query.fields, rules, check)
            for item in page.items]}
        page_links = listing.links(page, query, url, params, resource)
        if page_links:
            body[f"{resource.plural}_links"] = page_links
        return body

    def _list_in_sql(self, ctx: Context, resource: Resource, service: ResourceService,
                     query: listing.ListQuery, params: builtins.list[tuple[str, str]],
                     url: str) -> Item:
        """Filters, sorting and paging done by core in SQL: one page read and shown."""
        found = service.list_page(ctx, query.filters, PageRequest(
            query.sorts, query.limit, query.marker, query.page_reverse))
        check = self.policy.checker(ctx)
        rules = self._view_rules(resource)
        networks: dict[str, Item] | None = None
        if resource in (SUBNET, PORT) and self._reads_network(rules):
            networks = self._networks({i.get("network_id") for i in found.items})
        plan = self._plan(resource, query.fields, rules, check)
        per_item = [(name, rule) for name, rule in plan if rule is not None]
        hider = self._hider(per_item, check)
        names = tuple(name for name, _ in plan)
        show = _shower(list(names))
        encoded = self._encoded.get(resource.plural)
        shapes: dict[frozenset[str], object] = {}
        shown: list[Item | Encoded] = []
        plain = 0  # items shown as dicts, not as JSON written before
        nothing: frozenset[str] = frozenset()
        for item in found.items:
            hidden = nothing
            if per_item:
                # No rule reads the network's attributes unless they were read: the item
                # itself is then as good a target as a copy with them added.
                target = item if networks is None else \
                    self._target(resource, item, networks)
                hidden = hider(target)
            if encoded is None:
                shown.append(show(item, hidden))
                continue
            shape = shapes.get(hidden)
            if shape is None:
                shape = shapes[hidden] = encoded.shape(names, hidden)
            one = encoded.get(item, hidden, shape, show)
            if type(one) is not Encoded:
                plain += 1
            shown.append(one)
        body: Item = {resource.plural: shown if encoded is None or plain
                      else EncodedList(cast(builtins.list[Encoded], shown))}
        page = listing.Page(found.items, found.has_before, found.has_after)
        page_links = listing.links(page, query, url, params, resource)
        if page_links:
            body[f"{resource.plural}_links"] = page_links
        return body

    def _hider(self, per_item: builtins.list[tuple[str, str]], check: Checker
               ) -> Callable[[Item], frozenset[str]]:
        """The attributes `per_item`'s rules hide on a target, decided once per distinct
        value of what those rules read (a list's rows mostly share one owner), rather than
        rule by rule on every row."""
        keys: set[str] | None = set()
        for _, rule in per_item:
            reads = self.policy.reads(rule)
            keys = None if reads is None or keys is None else keys | reads
        memo: dict[Any, frozenset[str]] = {}

        def decide(target: Item) -> frozenset[str]:
            return frozenset(name for name, rule in per_item if not check(rule, target))

        if keys is None:
            return decide
        read = sorted(keys)
        # The values the rules read (one value alone for one key), picked in C.
        values = itemgetter(*read) if read else (lambda _: ())

        def hidden(target: Item) -> frozenset[str]:
            try:
                try:
                    key = values(target)
                except KeyError:  # an absent attribute reads as None
                    key = tuple(target.get(k) for k in read) if len(read) > 1 else None
                found = memo.get(key)
            except TypeError:  # a list or dict value: decided afresh
                return decide(target)
            if found is None:
                found = memo[key] = decide(target)
            return found
        return hidden

    def _get_visible(self, ctx: Context, resource: Resource, id_: str,
                     with_network: bool = True) -> tuple[Item, Item]:
        """The item and its policy target; `with_network=False`: the target may lack the
        network's attributes (no rule the caller evaluates reads them)."""
        if "\x00" in id_:
            # No id holds a NUL, and PostgreSQL refuses one in a query: absent, as Neutron says.
            raise not_found() if resource is AGENT else resource.not_found(id_)
        item = self._collections[resource.plural].get(ctx, id_)
        if self._sql_visibility(ctx, resource):
            # core's get already hides what the caller may not see.
            networks: dict[str, Item] = {}
            if with_network and resource in (SUBNET, PORT):
                networks = self._networks({item.get("network_id")})
            return item, self._target(resource, item, networks)
        visible = self._visible(ctx, resource, [item])
        if not visible:
            # Hidden by policy: as absent. Agents answer as Neutron's policy hook does.
            raise not_found() if resource is AGENT else resource.not_found(id_)
        return visible[0]

    def policy_target(self, ctx: Context, resource: Resource, id_: str) -> Item:
        """The policy target of a resource the caller may see (its NotFound otherwise),
        for checks made beside the resource's own URLs (its tags)."""
        return self._get_visible(ctx, resource, id_)[1]

    def show(self, ctx: Context, resource: Resource, id_: str,
             params: builtins.list[tuple[str, str]]) -> Item:
        fields = [v for k, v in params if k == "fields" and v]
        rules = self._view_rules(resource)
        item, target = self._get_visible(ctx, resource, id_, self._reads_network(rules))
        return {resource.singular: self.view(ctx, resource, item, target, fields, rules)}

    def _attr_rules(self, action: str, resource: Resource, given: Item
                    ) -> builtins.list[str]:
        """The `<action>:<attribute>` rules that exist for the attributes `given`."""
        found: builtins.list[str] = []
        for name, value in given.items():
            attr = resource.get(name)
            if attr is None or not attr.enforce_policy:
                continue
            names = [name]
            if name == "fixed_ips" and isinstance(value, list):
                names += [f"fixed_ips:{k}" for k in ("ip_address", "subnet_id")
                          if any(isinstance(ip, dict) and k in ip for ip in value)]
            found += [rule for rule in (self._attr_rule(action, sub) for sub in names) if rule]
        return found

    def _check_attrs(self, ctx: Context, action: str, resource: Resource, body: Item,
                     given: Item, target: Item) -> None:
        for rule in self._attr_rules(action, resource, given):
            self.policy.enforce(rule, {**target, **body}, ctx)

    def _network_needed(self, ctx: Context, rules: Iterable[str]) -> bool:
        """Whether deciding `rules` for this caller may look at what `_target` adds from
        the network: a rule reading it, unless it holds whatever the target (an admin's);
        an undefined rule falls back to the policy's default one, unknown here."""
        check = self.policy.checker(ctx)
        for rule in rules:
            if not self.policy.has_rule(rule):
                return True
            keys = self.policy.reads(rule)
            if (keys is None or keys & _NETWORK_KEYS) \
                    and not self.policy.holds_for_any_target(rule, check):
                return True
        return False

    def _core_target(self, resource: Resource, item: Item, network: Callable[[], Item],
                     needed: bool) -> Item:
        """The policy target of a port core read for a change; its network read through
        `network` (in core's transaction) only when `needed`."""
        networks = {item.get("network_id") or "": network()} if needed else {}
        return self._target(resource, item, networks)

    def _authorize_create(self, ctx: Context, resource: Resource, body: Item, given: Item,
                          networks: dict[str, Item]) -> None:
        target = self._target(resource, body, networks)
        action = f"create_{resource.singular}"
        self.policy.enforce(action, target, ctx)
        self._check_attrs(ctx, action, resource, body, given, target)

    def _hide_unseen_network(self, ctx: Context, body: Item, networks: dict[str, Item]
                             ) -> None:
        """A create refused on a network the caller cannot see: that network is absent."""
        network_id = body.get("network_id")
        if network_id in networks:
            # The whole network: a policy file's get_network may read any attribute.
            network = self.services.networks.get(Context.admin(), network_id)
            if not self._visible(ctx, NETWORK, [network]):
                raise exc.NetworkNotFound(net_id=network_id) from None

    def create(self, ctx: Context, resource: Resource, payload: Any) -> Item:
        items, bulk = request.resource_items(payload, resource, allow_bulk=True)
        bodies = [request.prepare_create(resource, item, ctx) for item in items]
        if resource is SUBNET:
            for body in bodies:
                if body.get("cidr") is None:
                    raise exc.BadRequest(resource="subnets", msg="a subnetpool must be "
                                         "specified in the absence of a cidr")
        networks: dict[str, Item] = {}
        refused: list[Item] = []  # the body being checked when policy refuses

        def authorize(found: dict[str, Item]) -> None:
            networks.update(found)
            for item, body in zip(items, bodies, strict=True):
                refused[:] = [body]
                self._authorize_create(ctx, resource, body, item, networks)
            refused.clear()

        try:
            if resource is PORT:
                # Checked by core in the create's own transaction, with the networks it
                # reads there.
                created_all = self.services.ports.create_bulk(ctx, bodies,
                                                              authorize=authorize)
            else:
                authorize(self._networks({b["network_id"] for b in bodies})
                          if resource is SUBNET else {})
                service = self._creatable[resource.plural]
                created_all = service.create_bulk(ctx, bodies) if bulk else \
                    [service.create(ctx, bodies[0])]
        except exc.PolicyNotAuthorized:
            if refused:  # outside core's transaction, which is over
                self._hide_unseen_network(ctx, refused[0], networks)
            raise
        if bulk:
            rules = self._view_rules(resource)
            return {resource.plural: [
                self.view(ctx, resource, i, self._target(resource, i, networks), rules=rules)
                for i in created_all]}
        created = created_all[0]
        target = self._target(resource, created, networks)
        return {resource.singular: self.view(ctx, resource, created, target)}

    def _checked_in_core(self, ctx: Context, resource: Resource, id_: str) -> bool:
        """Whether core makes a change's policy check, through a callback, in the change's
        own transaction: for ports, whose visibility core's SQL decides (one transaction
        where a read for the check and then the change took two)."""
        return resource is PORT and "\x00" not in id_ and self._sql_visibility(ctx, PORT)

    def update(self, ctx: Context, resource: Resource, id_: str, payload: Any) -> Item:
        items, _ = request.resource_items(payload, resource, allow_bulk=False)
        body = request.prepare_update(resource, items[0])
        action = f"update_{resource.singular}"
        targets: list[Item] = []  # the last one checked (core may retry)

        def check(target: Item) -> None:
            self.policy.enforce(action, {**target, **body}, ctx)
            self._check_attrs(ctx, action, resource, body, body, target)
            targets.append(target)

        if self._checked_in_core(ctx, resource, id_):
            needed = self._network_needed(ctx, [
                action, *self._attr_rules(action, resource, body),
                *self._view_rules(resource).values()])
            updated = self.services.ports.update(
                ctx, id_, body, authorize=lambda item, network: check(
                    self._core_target(resource, item, network, needed)))
        else:
            check(self._get_visible(ctx, resource, id_)[1])
            updated = self._collections[resource.plural].update(ctx, id_, body)
        new_target = {**targets[-1], **updated}
        return {resource.singular: self.view(ctx, resource, updated, new_target)}

    def delete(self, ctx: Context, resource: Resource, id_: str) -> None:
        action = f"delete_{resource.singular}"
        if self._checked_in_core(ctx, resource, id_):
            needed = self._network_needed(ctx, [action])
            self.services.ports.delete(ctx, id_, authorize=lambda item, network: (
                self.policy.enforce(action, self._core_target(
                    resource, item, network, needed), ctx)))
            return
        _, target = self._get_visible(ctx, resource, id_)
        self.policy.enforce(action, target, ctx)
        self._collections[resource.plural].delete(ctx, id_)

    # --- agents and the DHCP agent scheduler ----------------------------------------------

    def create_agent(self, ctx: Context) -> None:
        raise exc.AgentCreationNotSupported()

    def availability_zones(self, ctx: Context, params: builtins.list[tuple[str, str]],
                           url: str) -> Item:
        query = listing.parse_query(AVAILABILITY_ZONE, params, self.max_limit)
        items = self.services.agents.list_availability_zones(ctx, query.filters)
        visible = self._visible(ctx, AVAILABILITY_ZONE, items)
        page = listing.list_page([i for i, _ in visible], query, AVAILABILITY_ZONE)
        body: Item = {"availability_zones": [
            self.view(ctx, AVAILABILITY_ZONE, i, i, query.fields) for i in page.items]}
        page_links = listing.links(page, query, url, params, AVAILABILITY_ZONE)
        if page_links:
            body["availability_zones_links"] = page_links
        return body

    def dhcp_networks(self, ctx: Context, agent_id: str, params: builtins.list[tuple[str, str]]
                      ) -> Item:
        self.policy.enforce("get_dhcp-networks", {}, ctx)
        fields = [v for k, v in params if k == "fields" and v]
        networks = self.services.dhcp_scheduling.networks_on_agent(ctx, agent_id)
        rules = self._view_rules(NETWORK)
        return {"networks": [self.view(ctx, NETWORK, n, n, fields, rules) for n in networks]}

    def add_dhcp_network(self, ctx: Context, agent_id: str, payload: Any) -> None:
        self.policy.enforce("create_dhcp-network", {}, ctx)
        if not isinstance(payload, dict):
            raise bad_request(request.INVALID_BODY)
        network_id = payload.get("network_id")
        if network_id is None:
            raise bad_request("Failed to parse request. Required attribute 'network_id' "
                              "not specified")
        if not isinstance(network_id, str):
            raise bad_request(f"Invalid input for network_id. Reason: '{network_id}' is "
                              "not a valid UUID.")
        self.services.dhcp_scheduling.add_network(ctx, agent_id, network_id)

    def remove_dhcp_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        self.policy.enforce("delete_dhcp-network", {}, ctx)
        self.services.dhcp_scheduling.remove_network(ctx, agent_id, network_id)

    def dhcp_agents(self, ctx: Context, network_id: str, params: builtins.list[tuple[str, str]]
                    ) -> Item:
        self.policy.enforce("get_dhcp-agents", {}, ctx)
        fields = [v for k, v in params if k == "fields" and v]
        agents = self.services.dhcp_scheduling.agents_hosting_network(ctx, network_id)
        rules = self._view_rules(AGENT)
        return {"agents": [self.view(ctx, AGENT, a, a, fields, rules) for a in agents]}

    # --- port bindings (binding-extended) -------------------------------------------------

    _BINDING_FILTERS = ("host", "vif_type", "vnic_type", "status")
    _BINDING_BODY: dict[str, v.Validator] = {
        "host": v.safe_string(255), "vnic_type": v.values(VNIC_TYPES),
        "profile": v.dict_or_none}

    def _binding_allowed(self, ctx: Context, port_id: str, action: str) -> None:
        # A port the caller may not see is absent (404); one it sees, policy decides (403).
        _, target = self._get_visible(ctx, PORT, port_id)
        self.policy.enforce(action, target, ctx)

    def port_bindings(self, ctx: Context, port_id: str, params: builtins.list[tuple[str, str]]
                      ) -> Item:
        self._binding_allowed(ctx, port_id, "get_port_binding")
        wanted: dict[str, set[str]] = {}
        for key, value in params:
            if key in self._BINDING_FILTERS:
                wanted.setdefault(key, set()).add(value)
        fields = [value for key, value in params if key == "fields" and value]
        found = [b for b in self.services.ports.list_bindings(ctx, port_id)
                 if all(str(b[k]) in values for k, values in wanted.items())]
        return {"bindings": [{k: b[k] for k in b if not fields or k in fields}
                             for b in found]}

    def port_binding(self, ctx: Context, port_id: str, host: str,
                     params: builtins.list[tuple[str, str]]) -> Item:
        self._binding_allowed(ctx, port_id, "get_port_binding")
        fields = [value for key, value in params if key == "fields" and value]
        found = self.services.ports.get_binding(ctx, port_id, host)
        return {"binding": {k: found[k] for k in found if not fields or k in fields}}

    def create_port_binding(self, ctx: Context, port_id: str, payload: Any) -> Item:
        self._binding_allowed(ctx, port_id, "create_port_binding")
        item = payload.get("binding") if isinstance(payload, dict) else None
        if not isinstance(item, dict):
            raise bad_request(request.INVALID_BODY)
        unknown = sorted(k for k in item if k not in self._BINDING_BODY)
        if unknown:
            raise bad_request(f"Unrecognized attribute(s) '{', '.join(map(str, unknown))}'")
        if not item.get("host"):
            raise bad_request("Failed to parse request. Required attribute 'host' not "
                              "specified")
        body: Item = {}
        for key, value in item.items():
            try:
                body[key] = self._BINDING_BODY[key](value)
            except v.Invalid as err:
                raise bad_request(f"Invalid input for {key}. Reason: {err}.") from None
        return {"binding": self.services.ports.create_binding(ctx, port_id, body)}

    def delete_port_binding(self, ctx: Context, port_id: str, host: str) -> None:
        self._binding_allowed(ctx, port_id, "delete_port_binding")
        self.services.ports.delete_binding(ctx, port_id, host)

    def activate_port_binding(self, ctx: Context, port_id: str, host: str) -> Item:
        self._binding_allowed(ctx, port_id, "activate")
        return {"binding": self.services.ports.activate_binding(ctx, port_id, host)}
