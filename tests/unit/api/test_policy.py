"""Neutron's default rules in code, and a policy.yaml overriding them."""

from neutrino.api.policy import Policy
from neutrino.core.context import Context
from neutrino.lib.exceptions import PolicyNotAuthorized

ADMIN = Context(user_id="a", project_id="adm", roles=("admin",), is_admin=True)
MEMBER = Context(user_id="u", project_id="p1", roles=("member",))
OTHER = Context(user_id="o", project_id="p2", roles=("member",))


def test_admin_role_makes_admin():
    policy = Policy()
    assert policy.is_admin(ADMIN)
    assert not policy.is_admin(MEMBER)


def test_networks_owner_shared_admin():
    policy = Policy()
    own = {"project_id": "p1", "shared": False, "router:external": False}
    assert policy.check("get_network", own, MEMBER)
    assert not policy.check("get_network", own, OTHER)
    assert policy.check("get_network", {**own, "shared": True}, OTHER)
    assert policy.check("get_network", own, ADMIN)
    assert not policy.check("create_network:shared", own, MEMBER)
    assert not policy.check("get_network:provider:network_type", own, MEMBER)
    assert policy.check("get_network:provider:network_type", own, ADMIN)


def test_subnet_needs_network_owner():
    policy = Policy()
    target = {"project_id": "p2", "network:project_id": "p1", "shared": False}
    assert policy.check("create_subnet", target, MEMBER)
    assert not policy.check("create_subnet", target, OTHER)


def test_port_device_owner_rule():
    policy = Policy()
    foreign = {"project_id": "p2", "network:project_id": "p1", "device_owner": "network:dhcp"}
    assert not policy.check("create_port:device_owner", foreign, OTHER)
    assert policy.check("create_port:device_owner", foreign, MEMBER)  # network owner
    assert policy.check("create_port:device_owner", {**foreign, "device_owner": "compute:nova"},
                        OTHER)
    assert not policy.check("get_port:binding:host_id", foreign, MEMBER)


def test_agents_admin_only():
    policy = Policy()
    for action in ("get_agent", "update_agent", "delete_agent", "get_dhcp-networks",
                   "create_dhcp-network", "delete_dhcp-network", "get_dhcp-agents"):
        assert policy.check(action, {}, ADMIN)
        assert not policy.check(action, {}, MEMBER)
    try:
        policy.enforce("get_dhcp-agents", {}, MEMBER)
    except PolicyNotAuthorized as error:
        assert error.kind == "forbidden"
    else:
        raise AssertionError("member passed an admin-only rule")


def test_has_rule_only_for_defined_attribute_rules():
    policy = Policy()
    assert policy.has_rule("get_network:provider:network_type")
    assert not policy.has_rule("get_network:name")


def test_policy_file_overrides(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('"get_agent": "role:member or role:admin"\n'
                    '"create_network:shared": ""\n')
    policy = Policy(str(path))
    assert policy.check("get_agent", {}, MEMBER)
    assert policy.check("create_network:shared", {"project_id": "p1"}, MEMBER)
    assert not policy.check("delete_agent", {}, MEMBER)  # untouched defaults stay


def test_sample_policy_file_lists_every_default():
    from pathlib import Path

    from neutrino.api.policy import default_rules
    sample = Path(__file__).parents[3] / "etc" / "policy.yaml.sample"
    lines = set(sample.read_text().splitlines())
    for rule in default_rules():
        assert f'#"{rule.name}": "{rule.check_str}"' in lines, rule.name


def test_memo_agrees_with_oslo_policy_and_saves_work():
    policy = Policy()
    targets = [{"id": str(i), "project_id": f"p{i % 3}", "network:project_id": "p1",
                "shared": i % 2 == 0, "router:external": False,
                "device_owner": "network:dhcp" if i % 5 == 0 else "compute:nova"}
               for i in range(60)]
    actions = ["get_network", "get_port", "create_port:device_owner",
               "get_port:binding:host_id", "get_agent"]
    for ctx in (MEMBER, OTHER, ADMIN):
        check = policy.checker(ctx)
        for action in actions:
            for target in targets:
                assert check(action, target) == policy._decide(action, target, ctx), (
                    action, target, ctx)

    fresh = Policy()
    evaluations = []
    original = fresh._decide
    fresh._decide = lambda *args: evaluations.append(args) or original(*args)
    for _ in range(2):  # a second request, or list, decides nothing again
        check = fresh.checker(MEMBER)
        for target in targets:
            check("get_port", target)
    assert len(evaluations) == 3  # one per distinct project_id, not one per port


def test_memo_forgets_when_the_policy_file_changes(tmp_path, monkeypatch):
    import os

    from neutrino.api import policy as policy_module
    monkeypatch.setattr(policy_module, "RELOAD_INTERVAL", 0.0)
    path = tmp_path / "policy.yaml"
    path.write_text('"get_agent": "role:admin"\n')
    policy = Policy(str(path))
    assert not policy.check("get_agent", {}, MEMBER)
    path.write_text('"get_agent": "role:member or role:admin"\n')
    later = path.stat().st_mtime + 10  # a newer mtime, however fast the rewrite was
    os.utime(path, (later, later))
    assert policy.check("get_agent", {}, MEMBER)


def test_a_rule_holding_whatever_the_target_is_told_from_its_structure(tmp_path):
    # An admin's admin_or_owner holds for any port (its context_is_admin branch reads no
    # target); a member's depends on the port; a `not` or a target check is never assumed.
    policy = Policy()
    admin, member = policy.checker(ADMIN), policy.checker(MEMBER)
    assert policy.holds_for_any_target("get_port:binding:vnic_type", admin)
    assert not policy.holds_for_any_target("get_port:binding:vnic_type", member)
    assert policy.holds_for_any_target("get_port", admin)  # ... or admin_or_network_owner
    assert not policy.holds_for_any_target("get_port", member)
    path = tmp_path / "policy.yaml"
    path.write_text('"get_port:binding:vnic_type": "project_id:%(project_id)s"\n'
                    '"get_port:name": "not rule:owner"\n'
                    '"get_port:description": "rule:context_is_admin and rule:regular_user"\n'
                    '"get_port:device_id": "rule:context_is_admin and rule:owner"\n'
                    '"loop": "rule:loop or rule:owner"\n')
    changed = Policy(str(path))
    admin = changed.checker(ADMIN)
    assert not changed.holds_for_any_target("get_port:binding:vnic_type", admin)
    assert not changed.holds_for_any_target("get_port:name", admin)
    assert changed.holds_for_any_target("get_port:description", admin)
    assert not changed.holds_for_any_target("get_port:device_id", admin)
    assert not changed.holds_for_any_target("loop", admin)
    assert not changed.holds_for_any_target("no such rule", admin)
