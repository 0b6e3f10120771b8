"""Pacemaker runs the Neutron agent group (the seeds' layout, `manager: pacemaker`): the
network nodes join the controllers' Corosync/Pacemaker cluster with one `orch.deploy`, the
L3, DHCP and metadata agents are `systemd:` resources colocated and ordered on one network
node (the lab's own resources kept on the controllers with `nodes:`), and their units are
disabled in systemd. Powering off the group's node makes Pacemaker start the group on the
other network node, and hastack's healing hands the router and network over to it; the node
that comes back starts no second group.

Then the pillar `hastack lab up` wrote comes back: one `orch.deploy` takes the network nodes
out of Corosync/Pacemaker while they stay in the pillar (resources moved off, Pacemaker and
Corosync stopped and not started at boot, the members' nodelist rewritten) and hastack's own
mode runs their agents again. It runs last, in `make test-membership` (issue 10's long tests),
which removes the lab afterwards. The lab's kernel has no Open vSwitch: the router has no
ports and the network no DHCP subnet (see test_neutron.py)."""

import time

import pytest

from conftest import hastack
from hastack.lab import netapi

pytestmark = pytest.mark.timeout(1800)

NETWORK_NODES = ["net1", "net2"]
AGENTS = {"neutron-l3": "neutron-l3-agent", "neutron-dhcp": "neutron-dhcp-agent",
          "neutron-metadata": "neutron-metadata-agent"}


@pytest.fixture(scope="module")
def lab_pillar(lab):
    """The topology as `hastack lab up` wrote it, read before this module changes it."""
    return lab.lab.topology()


def _deploy(lab):
    started = time.monotonic()
    res = lab.salt_run("state.orchestrate", "orch.deploy", timeout=1800)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-2000:]
    return res, time.monotonic() - started


def _pacemaker_pillar(lab):
    topo = lab.lab.topology()
    ctls = [n for n, v in topo["nodes"].items() if "controller" in v["roles"]]
    cl = topo["cluster"]
    cl.update(manager="pacemaker", nodes=ctls + NETWORK_NODES)
    for spec in cl["resources"].values():
        spec["nodes"] = list(ctls)            # the lab's units exist on the controllers only
    for rid, unit in AGENTS.items():
        cl["resources"][rid] = {"systemd": unit, "monitor": 5, "nodes": list(NETWORK_NODES)}
    for rid in ("neutron-dhcp", "neutron-metadata"):
        cl["constraints"] += [{"colocate": [rid, "neutron-l3"]},
                              {"order": ["neutron-l3", rid]}]
    topo["services"]["neutron"].setdefault("agents", {}).update(
        mode="active_passive", l3_ha=False, dhcp_agents_per_network=1)
    lab.lab.write_pillar(topo)


def _group_nodes(st):
    return {r: st["resources"][r]["nodes"] for r in AGENTS}


def _cluster(lab, node="ctl1"):
    return lab.salt(node, "ha_cluster.status", "-t", "60", timeout=120)[node]


def test_pacemaker_runs_the_agent_group_and_moves_it_when_its_node_dies(lab, lab_pillar):
    api = netapi.Networking(lab.lab.topology(with_secrets=True))
    _pacemaker_pillar(lab)
    took = _deploy(lab)[1]
    print("\n[neutron/pacemaker] orch.deploy with the network nodes in the cluster: %.1f s"
          % took)

    def one_group():
        st = _cluster(lab)
        where = _group_nodes(st) if isinstance(st, dict) else {}
        nodes = {tuple(n) for n in where.values()}
        return len(nodes) == 1 and len(next(iter(nodes))) == 1 and st["ok"]
    lab.wait_for(one_group, timeout=180, what="the agent group on one network node")
    st = _cluster(lab)
    assert sorted(st["online"]) == sorted(["ctl1", "ctl2", "ctl3"] + NETWORK_NODES), st
    (keeper,) = st["resources"]["neutron-l3"]["nodes"]
    (standby,) = [n for n in NETWORK_NODES if n != keeper]
    for rid in ("lab-vip", "lab-vip-echo"):
        assert st["resources"][rid]["nodes"][0].startswith("ctl"), st["resources"]
    units = list(AGENTS.values())
    assert lab.sh(keeper, "systemctl", "is-active", *units).stdout.split() == ["active"] * 3
    assert "active" not in lab.sh(standby, "systemctl", "is-active", *units).stdout.split()
    for node in NETWORK_NODES:
        assert "enabled" not in lab.sh(node, "systemctl", "is-enabled", *units).stdout.split()
    lab.wait_for(lambda: sorted((a["host"], a["agent_type"]) for a in api.agents()
                                if a["alive"]) == sorted((keeper, k) for k in netapi.KINDS),
                 timeout=180, what="the group's three agents alive on %s" % keeper)

    router, network = api.place_on(keeper, "lab-neutron-pacemaker")
    try:
        hastack("lab", "kill", keeper)
        killed = time.monotonic()
        try:
            moved = api.wait_moved(router, network, standby, killed, timeout=300)
            assert moved is not None, "the router and network not on %s in 300 s" % standby
            print("[neutron/pacemaker] %s powered off: Pacemaker started the group on %s and "
                  "its router and network were handed over after %.1f s"
                  % (keeper, standby, moved))
            st = _cluster(lab)
            assert _group_nodes(st) == {r: [standby] for r in AGENTS}, st["resources"]
            log = lab.salt_run("hastack.heal_log", "resource=neutron:" + keeper,
                               "--out=json").stdout
            assert router in log and network in log, log[-2000:]
        finally:
            hastack("lab", "start", keeper)
        lab.wait_for(lambda: lab.ping([keeper]) == {keeper}, timeout=180,
                     what="%s's minion" % keeper)
        lab.wait_for(lambda: keeper in _cluster(lab)["online"], timeout=180,
                     what="%s back in the cluster" % keeper)
        # The group stays where it is (stickiness) and the returning node runs none of it.
        time.sleep(10)
        assert _group_nodes(_cluster(lab)) == {r: [standby] for r in AGENTS}
        assert "active" not in lab.sh(keeper, "systemctl", "is-active", *units).stdout.split()
        assert api.hosts_of(router, network) == ({standby}, {standby})
    finally:
        api.remove(router, network)


def test_the_network_nodes_leave_the_cluster_and_run_their_agents_again(lab, lab_pillar):
    lab.lab.write_pillar(lab_pillar)
    res, took = _deploy(lab)
    print("\n[neutron/pacemaker] orch.deploy taking the network nodes out of the cluster: "
          "%.1f s" % took)
    for node in NETWORK_NODES:
        assert "%s is out of the cluster" % node in res.stdout, res.stdout[-5000:]
    st = _cluster(lab)
    assert st["quorate"] and sorted(st["online"]) == ["ctl1", "ctl2", "ctl3"], st
    assert sorted(st["corosync"]["members"]) == ["ctl1", "ctl2", "ctl3"], st["corosync"]
    for node in NETWORK_NODES:
        units = ("pacemaker", "corosync")
        assert "active" not in lab.sh(node, "systemctl", "is-active", *units).stdout.split()
        assert lab.sh(node, "systemctl", "is-enabled", *units).stdout.split() == \
            ["disabled"] * 2, node
        assert "cluster" not in lab.salt(node, "grains.get", "hastack")[node]["parts"]
        # Healing, off there while it left the cluster, resumed at the rollout's end.
        assert lab.salt(node, "grains.get", "hastack_healing")[node] is True, node
    # hastack's own mode again: every agent alive on both network nodes.
    api = netapi.Networking(lab.lab.topology(with_secrets=True))
    every = sorted((n, k) for n in NETWORK_NODES for k in netapi.KINDS)
    lab.wait_for(lambda: sorted((a["host"], a["agent_type"]) for a in api.agents()
                                if a["alive"]) == every,
                 timeout=180, what="every agent alive on both network nodes")
    lab.wait_for(lambda: lab.salt_run("hastack.status").returncode == 0, timeout=300,
                 what="a green hastack.status")
