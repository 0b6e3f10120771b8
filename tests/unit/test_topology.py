"""The topology validator: a good pillar passes, and each malformed one is refused with an
error that names the pillar field at fault."""

import pytest

from hastack import topology


def test_example_pillar_is_valid(good):
    assert topology.validate(good) == []


def _set(path, value):
    def mutate(topo):
        node = topo
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(topo):
        node = topo
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return mutate


def _add_node(name, address, roles=("controller",)):
    return _set(["nodes", name], {"address": address, "roles": list(roles)})


# (case id, mutation of the good topology, field the error must name, words it must contain)
MALFORMED = [
    ("no-network", _delete(["network"]), "hastack:network", "missing"),
    ("bad-subnet", _set(["network", "subnet"], "198.18.10.0/33"), "hastack:network:subnet",
     "not an IPv4 network"),
    ("bad-interface", _set(["network", "interface"], "a-very-long-interface-name"),
     "hastack:network:interface", "interface name"),
    ("no-nodes", _set(["nodes"], {}), "hastack:nodes", "empty"),
    ("node-bad-address", _set(["nodes", "ctl2", "address"], "198.18.10.300"),
     "hastack:nodes:ctl2:address", "not an IPv4 address"),
    ("node-outside-subnet", _set(["nodes", "ctl2", "address"], "198.18.11.12"),
     "hastack:nodes:ctl2:address", "outside the nodes' subnet"),
    ("node-broadcast", _set(["nodes", "net2", "address"], "198.18.10.255"),
     "hastack:nodes:net2:address", "broadcast"),
    ("node-duplicate-address", _set(["nodes", "ctl3", "address"], "198.18.10.11"),
     "hastack:nodes:ctl3:address", "already the address of node ctl1"),
    ("node-bad-name", _add_node("Ctl_4", "198.18.10.30"), "hastack:nodes:Ctl_4",
     "not a valid host name"),
    ("node-no-roles", _set(["nodes", "net1", "roles"], []), "hastack:nodes:net1:roles",
     "non-empty list"),
    ("node-unknown-role", _set(["nodes", "net1", "roles"], ["router"]),
     "hastack:nodes:net1:roles", "unknown role 'router'"),
    ("vip-outside-subnet", _set(["vips", "api", "address"], "203.0.113.10"),
     "hastack:vips:api:address", "outside the nodes' subnet"),
    ("vip-is-node-address", _set(["vips", "db", "address"], "198.18.10.13"),
     "hastack:vips:db:address", "address of node ctl3"),
    ("vip-duplicate", _set(["vips", "db", "address"], "198.18.10.100"),
     "hastack:vips:db:address", "already the address of VIP api"),
    ("vip-duplicate-router-id", _set(["vips", "db", "router_id"], 51),
     "hastack:vips:db:router_id", "already used by VIP api"),
    ("vip-router-id-range", _set(["vips", "api", "router_id"], 256),
     "hastack:vips:api:router_id", "not a VRRP router id"),
    ("vip-router-id-bool", _set(["vips", "api", "router_id"], True),
     "hastack:vips:api:router_id", "not a VRRP router id"),
    ("vip-unknown-node", _set(["vips", "api", "nodes"], ["ctl1", "ctl9"]),
     "hastack:vips:api:nodes", "node 'ctl9' is not defined"),
    ("vip-node-twice", _set(["vips", "api", "nodes"], ["ctl1", "ctl1"]),
     "hastack:vips:api:nodes", "listed twice"),
    ("galera-even", _set(["services", "galera", "nodes"], ["ctl1", "ctl2"]),
     "hastack:services:galera:nodes", "even cluster"),
    ("galera-even-arbitrator-member", lambda t: (
        t["services"]["galera"].update(nodes=["ctl1", "ctl2"], arbitrator="ctl2")),
     "hastack:services:galera:arbitrator", "already a Galera member"),
    ("galera-unknown-arbitrator", lambda t: (
        t["services"]["galera"].update(nodes=["ctl1", "ctl2"], arbitrator="nope")),
     "hastack:services:galera:arbitrator", "not defined"),
    ("galera-sst-method", lambda t: t["services"]["galera"].update(sst_method="xtrabackup"),
     "hastack:services:galera:sst_method", "not rsync or mariabackup"),
    ("galera-sync-wait", lambda t: t["services"]["galera"].update(sync_wait=16),
     "hastack:services:galera:sync_wait", "not a wsrep_sync_wait value"),
    ("galera-suspect-timeout-short", lambda t: t["services"]["galera"].update(
        suspect_timeout=1), "hastack:services:galera:suspect_timeout", "from 2 to 10"),
    ("galera-suspect-timeout-text", lambda t: t["services"]["galera"].update(
        suspect_timeout="PT5S"), "hastack:services:galera:suspect_timeout", "not a number"),
    ("service-unknown-node", _set(["services", "rabbitmq", "nodes"], ["ctl1", "ctl2", "ctl7"]),
     "hastack:services:rabbitmq:nodes", "node 'ctl7' is not defined"),
    ("service-bad-port", _set(["services", "keystone", "port"], 70000),
     "hastack:services:keystone:port", "not a TCP port"),
    ("service-port-clash", _set(["services", "keystone", "port"], 3306),
     "hastack:services:keystone:port", "port 3306 on node ctl1 is already bound by service galera"),
    ("service-port-clash-extra", _set(["services", "keystone", "port"], 4567),
     "hastack:services:keystone:port", "already bound by service galera"),
    ("frontend-clash", lambda t: t["services"].update(
        glance={"nodes": ["ctl1", "ctl2", "ctl3"], "port": 9292, "vip": "api",
                "frontend_port": 5000}),
     "hastack:services:glance:frontend_port", "already the frontend of service keystone"),
    ("service-unknown-vip", _set(["services", "keystone", "vip"], "public"),
     "hastack:services:keystone:vip", "VIP 'public' is not defined"),
    ("sysctl-bad-key", _set(["common", "sysctl"], {"not a key": 1}), "hastack:common:sysctl",
     "not a sysctl key"),
    ("packages-unknown-role", _set(["common", "packages", "compute"], ["nova-compute"]),
     "hastack:common:packages:compute", "unknown role"),
    ("packages-not-list", _set(["common", "packages", "all"], "curl"),
     "hastack:common:packages:all", "list of package names"),
    ("pkg-refresh-not-bool", _set(["common", "pkg_refresh"], "yes"),
     "hastack:common:pkg_refresh", "not true or false"),
    ("no-secrets", _delete(["secrets"]), "hastack:secrets", "hastack secrets"),
    ("secret-missing", _delete(["secrets", "rabbitmq_cookie"]),
     "hastack:secrets:rabbitmq_cookie", "missing"),
    ("secret-short", _set(["secrets", "galera_sst_password"], "short"),
     "hastack:secrets:galera_sst_password", "shorter than 16"),
    ("secret-default", _set(["secrets", "rabbitmq_admin_password"], "guest"),
     "hastack:secrets:rabbitmq_admin_password", "shorter than"),
    ("bad-cluster-name", _set(["cluster_name"], "My Cluster"), "hastack:cluster_name",
     "not a valid cluster name"),
]


@pytest.mark.parametrize("mutate,field,words", [c[1:] for c in MALFORMED],
                         ids=[c[0] for c in MALFORMED])
def test_malformed_topology_is_refused_naming_the_field(good, mutate, field, words):
    mutate(good)
    errors = topology.validate(good)
    matching = [e for e in errors if e.startswith(field + ":") and words in e]
    assert matching, "no error on %s saying %r; got %r" % (field, words, errors)


def test_a_long_but_repetitive_secret_is_refused(good):
    good["secrets"]["keystone_admin_password"] = "passwordpassword"
    assert topology.validate(good) == [
        "hastack:secrets:keystone_admin_password: too repetitive (fewer than 8 distinct "
        "characters); generate it with `hastack secrets`"]


def test_even_galera_with_arbitrator_is_accepted(good):
    good["services"]["galera"].update(nodes=["ctl1", "ctl2"], arbitrator="net1")
    assert topology.validate(good) == []


def test_every_error_is_reported_not_just_the_first(good):
    good["vips"]["db"]["router_id"] = 51
    good["nodes"]["ctl2"]["address"] = "10.0.0.1"
    errors = topology.validate(good)
    assert any(e.startswith("hastack:vips:db:router_id") for e in errors)
    assert any(e.startswith("hastack:nodes:ctl2:address") for e in errors)


def test_missing_topology():
    assert topology.validate(None) == [
        "hastack: missing or not a mapping; the pillar must define the topology"]


def test_accessors(good):
    assert topology.nodes_with_role(good, "network") == ["net1", "net2"]
    assert topology.packages_for(good, ["network"]) == sorted(
        ["iproute2", "curl", "procps", "systemd-timesyncd", "keepalived"])
    assert topology.hosts_entries(good)["ctl3"] == "198.18.10.13"
