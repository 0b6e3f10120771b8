"""Neutron in the lab, as a client sees it from the host with keystoneauth1: every agent on
both network nodes alive and the Networking API answering through the VIP with a Keystone
token (and refusing without one); a rolling restart of the network nodes that never shows a
moment with no live DHCP or L3 agent; and, with net1 powered off, its router and network
hosted by net2's agents, the move in the heal log; last, ``agents:mode: active_passive``:
one node runs the agent group, it moves when that node is powered off, and the node that
comes back does not start a second one (then the lab goes back to active_active).

The lab's kernel has no Open vSwitch: these tests check the control plane (agents,
scheduling), not packets. The router is a legacy one with no ports and the network has no
DHCP subnet, so the agents host them without plugging anything."""

import threading
import time

import pytest
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from conftest import NODES, hastack
from hastack import neutron
from hastack.lab import netapi

pytestmark = pytest.mark.timeout(900)

NETWORK_NODES = ["net1", "net2"]
KINDS = netapi.KINDS


@pytest.fixture(scope="module")
def topo(lab):
    return lab.lab.topology(with_secrets=True)


@pytest.fixture(scope="module")
def api(topo):
    return netapi.Networking(topo)


def live(found, kind):
    return [a for a in found if a["agent_type"] == kind and a["alive"]]


def test_every_agent_is_alive_and_the_api_answers_through_both_vips(lab, topo, api):
    found = api.agents()
    assert sorted((a["host"], a["agent_type"]) for a in found) == sorted(
        (h, k) for h in NETWORK_NODES for k in KINDS)
    assert all(a["alive"] and a["admin_state_up"] for a in found), found
    sess = api.sess
    catalog = sess.get_endpoint(service_type="network", interface="public")
    assert catalog == "http://%s:9696" % topo["vips"]["api"]["address"]
    for name in ("api", "api2"):
        url = "http://%s:9696/v2.0/networks" % topo["vips"][name]["address"]
        assert sess.get(url).status_code == 200
        # Keystone auth, not noauth: no token, no answer.
        anon = ks_session.Session().get(url, authenticated=False, raise_exc=False)
        assert anon.status_code == 401, (name, anon.status_code)


class Poller(threading.Thread):
    """Asks the API for the agents every 0.2 s; keeps the fewest live agents of each kind
    it saw, and how many polls it made and failed."""

    def __init__(self, api):
        super().__init__(daemon=True)
        self.api = api
        self.stop = threading.Event()
        self.fewest = {k: None for k in KINDS}
        self.polls = self.failed = 0

    def run(self):
        while not self.stop.is_set():
            try:
                found = self.api.agents()
            except ks_exc.ClientException:
                self.failed += 1
            else:
                self.polls += 1
                for kind in KINDS:
                    n = len(live(found, kind))
                    if self.fewest[kind] is None or n < self.fewest[kind]:
                        self.fewest[kind] = n
            time.sleep(0.2)


def test_rolling_restart_never_leaves_no_live_dhcp_or_l3_agent(lab, api):
    poller = Poller(api)
    poller.start()
    try:
        res = lab.salt_run("hastack.neutron_restart", "--out=json", timeout=900)
    finally:
        poller.stop.set()
        poller.join(10)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    print("\n[neutron] rolling restart: %s; %d polls, %d failed, fewest live %s"
          % (res.stdout.strip()[-600:], poller.polls, poller.failed, poller.fewest))
    assert poller.polls > 20 and poller.failed == 0
    assert poller.fewest[neutron.L3] >= 1 and poller.fewest[neutron.DHCP] >= 1, poller.fewest
    # Each node's agents came back with a start after the restart, and all are live now.
    found = api.agents()
    assert all(a["alive"] for a in found), found


@pytest.fixture
def hosted_on_net1(api):
    """A router and a network hosted only by net1's agents (placed through the API: the lab
    schedules nothing by itself); removed afterwards."""
    router, network = api.place_on("net1", "lab-neutron-test")
    yield router, network
    api.remove(router, network)


def test_a_lost_network_node_has_its_router_and_network_moved(lab, api, hosted_on_net1):
    router_id, network_id = hosted_on_net1
    assert api.hosts_of(router_id, network_id) == ({"net1"}, {"net1"})
    hastack("lab", "kill", "net1")
    killed = time.monotonic()
    try:
        moved = api.wait_moved(router_id, network_id, "net2", killed, timeout=180)
        assert moved is not None, "net1's router and network not on net2's agents in 180 s"
        print("\n[neutron] net1 powered off: its router and network hosted by net2 after "
              "%.1f s" % moved)
        log = lab.salt_run("hastack.heal_log", "resource=neutron:net1", "--out=json")
        assert log.returncode == 0 and router_id in log.stdout and network_id in log.stdout, \
            log.stdout[-2000:]
    finally:
        hastack("lab", "start", "net1")
    lab.wait_for(lambda: lab.ping(["net1"]) == {"net1"}, timeout=120, what="net1's minion")
    lab.wait_for(lambda: all(a["alive"] for a in api.agents()), timeout=120,
                 what="net1's agents alive again")


# -- active_passive: the seeds' layout, one node runs the agent group ----------------------

def _apply(lab, node, sls):
    ret = lab.salt(node, "state.apply", sls, timeout=600).get(node)
    assert isinstance(ret, dict) and all(s["result"] for s in ret.values()), ret
    return [s for s in ret.values() if s["changes"]]


def _units(lab, node, verb):
    return lab.sh(node, "systemctl", verb, *neutron.AGENT_UNITS).stdout.split()


def _switch(lab, write):
    """``write`` the lab's pillar, refresh it on every node (the beacons read it), then
    apply each network node's agents state (the network phase of orch.deploy, one node at a
    time). The controllers keep their scheduling settings: the test places its router and
    network itself, so they do not matter here, and restarting every controller would cost
    minutes."""
    write()
    lab.salt("-L", ",".join(NODES), "saltutil.refresh_pillar", "wait=True")
    return {node: _apply(lab, node, "neutron.agents") for node in NETWORK_NODES}


def _passive_pillar(lab):
    topo = lab.lab.topology()
    topo["services"]["neutron"].setdefault("agents", {}).update(
        mode="active_passive", l3_ha=False, dhcp_agents_per_network=1)
    lab.lab.write_pillar(topo)


def test_active_passive_runs_one_agent_group_and_moves_it_when_its_node_dies(lab, api):
    """With ``agents:mode: active_passive`` one network node runs the L3, DHCP and metadata
    agents; the other stands by with its agents stopped and not enabled. Powering off the
    group's node moves the group (and the router and network it hosted) to the other node;
    the node that comes back does not start a second group."""
    path = lab.lab.topology_path
    with open(path) as f:
        active_active = f.read()

    def restore():
        with open(path, "w") as f:
            f.write(active_active)

    def every_agent_alive():
        lab.wait_for(lambda: sorted((a["host"], a["agent_type"]) for a in api.agents()
                                    if a["alive"]) == sorted((h, k) for h in NETWORK_NODES
                                                             for k in KINDS),
                     timeout=180, what="every agent on both network nodes alive")
    # From a settled lab: the test before may have just powered a network node back on.
    every_agent_alive()
    try:
        _switch(lab, lambda: _passive_pillar(lab))
        found = api.agents()
        hosts = {a["host"] for a in found}
        assert len(hosts) == 1 and all(a["alive"] for a in found), found
        (keeper,) = hosts
        (standby,) = [n for n in NETWORK_NODES if n != keeper]
        assert sorted(a["agent_type"] for a in found) == sorted(KINDS)
        assert _units(lab, keeper, "is-active") == ["active"] * 3
        assert "active" not in _units(lab, standby, "is-active")
        assert "enabled" not in _units(lab, keeper, "is-enabled") + _units(
            lab, standby, "is-enabled")
        # Applying it again changes nothing.
        assert _apply(lab, keeper, "neutron.agents") == []
        assert _apply(lab, standby, "neutron.agents") == []

        router, network = api.place_on(keeper, "lab-neutron-passive")
        try:
            hastack("lab", "kill", keeper)
            killed = time.monotonic()
            try:
                moved = api.wait_moved(router, network, standby, killed, timeout=240)
                assert moved is not None, "the group did not move to %s in 240 s" % standby
                print("\n[neutron] active_passive: %s powered off; the agent group runs on %s "
                      "with its router and network after %.1f s" % (keeper, standby, moved))
                # The heal's record is written once it also deleted the old agent records.
                lab.wait_for(lambda: router in lab.salt_run(
                    "hastack.heal_log", "resource=neutron:" + keeper, "--out=json").stdout,
                    timeout=60, what="the failover in the heal log")
                log = lab.salt_run("hastack.heal_log", "resource=neutron:" + keeper,
                                   "--out=json").stdout
                assert "neutron_failover" in log and network in log, log[-2000:]
                found = api.agents()
                assert {a["host"] for a in found} == {standby}, found  # old records forgotten
            finally:
                hastack("lab", "start", keeper)
            lab.wait_for(lambda: lab.ping([keeper]) == {keeper}, timeout=120,
                         what="%s's minion" % keeper)
            # It booted with its agents' units disabled: none has run since the boot (not
            # even briefly, until healing stopped it), and the beacon finds nothing to do.
            time.sleep(10)
            assert lab.sh(keeper, "systemctl", "show", "--value", "-p",
                          "ActiveEnterTimestampMonotonic", *neutron.AGENT_UNITS
                          ).stdout.split() == ["0"] * 3
            found = api.agents()
            assert {a["host"] for a in found} == {standby} and all(
                a["alive"] for a in found), found
            assert api.hosts_of(router, network) == ({standby}, {standby})
        finally:
            api.remove(router, network)
    finally:
        _switch(lab, restore)
        every_agent_alive()
