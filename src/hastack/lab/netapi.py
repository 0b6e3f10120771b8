"""The Networking API as a lab client sees it from the host (keystoneauth1, through the API
VIP): the agents, and a router and a network placed on one network node's agents so that a
test or a benchmark can watch them move when that node is lost.

The lab's kernel has no Open vSwitch: the router is a legacy one with no ports and the
network has no DHCP subnet, so an agent hosts them without plugging anything."""

import time

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from hastack import neutron

KINDS = (neutron.L3, neutron.DHCP, neutron.METADATA)


class Networking:
    def __init__(self, topo, vip="api", timeout=30):
        address = topo["vips"][vip]["address"]
        auth = v3.Password(auth_url="http://%s:5000/v3" % address, username="admin",
                           password=topo["secrets"]["keystone_admin_password"],
                           project_name="admin", user_domain_id="default",
                           project_domain_id="default")
        self.sess = ks_session.Session(auth=auth, timeout=timeout)
        self.url = "http://%s:9696/v2.0" % address

    def agents(self):
        return self.sess.get(self.url + "/agents").json()["agents"]

    def agent(self, kind, host, found=None):
        (a,) = [a for a in (found or self.agents())
                if a["agent_type"] == kind and a["host"] == host]
        return a

    def place_on(self, host, name):
        """A router and a network, each hosted by ``host``'s agent only: (router, network)
        ids."""
        router = self.sess.post(self.url + "/routers", json={"router": {
            "name": name, "ha": False}}).json()["router"]["id"]
        network = self.sess.post(self.url + "/networks", json={"network": {
            "name": name}}).json()["network"]["id"]
        found = self.agents()
        self._host_only(self.agent(neutron.L3, host, found)["id"], "routers", router,
                        "l3-agents", "l3-routers", "router_id")
        self._host_only(self.agent(neutron.DHCP, host, found)["id"], "networks", network,
                        "dhcp-agents", "dhcp-networks", "network_id")
        return router, network

    def _host_only(self, agent, kind, rid, agents_path, hosted_path, key):
        """``agent`` alone hosts ``rid``. An L3 agent that resyncs (restarted by a heal just
        before) schedules a new router by itself (router_auto_schedule): Neutron then
        answers 409 to placing it elsewhere (seen when the lab tests of healing ran right
        before)."""
        def hosts():
            return {a["id"] for a in self.sess.get("%s/%s/%s/%s" % (
                self.url, kind, rid, agents_path)).json()["agents"]}
        for _ in range(5):
            now = hosts()
            if now == {agent}:
                return
            for other in now - {agent}:
                self.sess.delete("%s/agents/%s/%s/%s" % (self.url, other, hosted_path, rid))
            if agent not in now:
                try:
                    self.sess.post("%s/agents/%s/%s" % (self.url, agent, hosted_path),
                                   json={key: rid})
                except ks_exc.Conflict:       # scheduled elsewhere meanwhile: look again
                    time.sleep(1)
        if hosts() != {agent}:
            raise RuntimeError("could not place %s %s on agent %s alone" % (kind, rid, agent))

    def remove(self, router, network):
        self.sess.delete(self.url + "/routers/" + router, raise_exc=False)
        self.sess.delete(self.url + "/networks/" + network, raise_exc=False)

    def hosts_of(self, router, network):
        """(hosts of live L3 agents hosting ``router``, of live DHCP agents hosting
        ``network``)."""
        routers = self.sess.get("%s/routers/%s/l3-agents" % (self.url, router)).json()
        networks = self.sess.get("%s/networks/%s/dhcp-agents" % (self.url, network)).json()
        return ({a["host"] for a in routers["agents"] if a["alive"]},
                {a["host"] for a in networks["agents"] if a["alive"]})

    def wait_moved(self, router, network, to, started, timeout=300):
        """Seconds from ``started`` (time.monotonic()) until ``to`` alone hosts both, or
        None."""
        while time.monotonic() - started < timeout:
            try:
                if self.hosts_of(router, network) == ({to}, {to}):
                    return round(time.monotonic() - started, 1)
            except Exception:  # noqa: BLE001 - the API through a VIP that is moving
                pass
            time.sleep(0.5)
        return None
