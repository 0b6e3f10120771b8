"""The lab's Corosync/Pacemaker cluster (hastack:cluster, from layout.lab_cluster): quorate
with every controller online after deploy, loud about running without fencing, a second
run that changes nothing, and the Pacemaker VIP with its service moving together when their
node is powered off — measured by a client on the host (a new connection every 10 ms, 100 ms
timeout: the longest gap between two answers and the failed requests). The VIP stands where
a DRBD-backed MySQL's would: colocated with the Promoted instance of a promotable clone
(Pacemaker's Stateful agent standing in for DRBD) and started after its promotion, so the
promotion moves with them."""

import http.client
import json
import threading
import time

import pytest

from conftest import hastack

pytestmark = pytest.mark.timeout(900)

CONTROLLERS = ["ctl1", "ctl2", "ctl3"]
VIP = "198.18.10.110"
PORT = 8080


def status(lab, node):
    return lab.salt(node, "ha_cluster.status").get(node)


def whole(st):
    return bool(isinstance(st, dict) and st["quorate"] and st["online"] == CONTROLLERS
                and st["dc"])


def answer(lab):
    """The node that answers GET / on the Pacemaker VIP, or None."""
    code, body = lab.get(VIP, PORT, timeout=0.3)
    return body.strip() if code == 200 else None


def where(st, resource):
    return (st["resources"].get(resource) or {}).get("nodes", [])


class Client(threading.Thread):
    """GET / on the VIP every 10 ms, each on a new connection with a 100 ms timeout;
    records (time, node that answered or None)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.results, self.stopping = [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            t = time.monotonic()
            who = None
            try:
                conn = http.client.HTTPConnection(VIP, PORT, timeout=0.1)
                conn.request("GET", "/")
                resp = conn.getresponse()
                if resp.status == 200:
                    who = resp.read().decode().strip()
                conn.close()
            except (OSError, http.client.HTTPException):
                pass
            self.results.append((t, who))
            time.sleep(max(0.0, 0.010 - (time.monotonic() - t)))

    def outage(self):
        """(longest gap between two answers in s, failed requests)."""
        ok = [t for t, who in self.results if who]
        gaps = [b - a for a, b in zip(ok, ok[1:])]
        return (max(gaps) if gaps else None), sum(1 for _, who in self.results if not who)


def test_quorate_with_every_controller_online(lab):
    # Right after a deploy Pacemaker may still be starting the resources it was just given.
    lab.wait_for(lambda: all((status(lab, n) or {}).get("ok") for n in CONTROLLERS),
                 timeout=90, what="every controller to see the cluster settled")
    for node in CONTROLLERS:
        st = status(lab, node)
        assert whole(st), (node, st)
        assert st["corosync"]["quorate"] and st["corosync"]["members"] == CONTROLLERS
        assert st["ok"], st["problems"]
        vip, echo = where(st, "lab-vip"), where(st, "lab-vip-echo")
        assert len(vip) == 1 and vip == echo, st["resources"]
        # One instance of the promotable clone on every member, Promoted where the VIP is.
        stateful = st["resources"]["lab-stateful"]
        assert stateful["role"] == "Promoted" and stateful["nodes"] == vip, stateful
        assert stateful["instances"] == {n: "Promoted" if n in vip else "Unpromoted"
                                         for n in CONTROLLERS}, stateful
    # The lab opts out of fencing in words, and every view says so.
    assert st["fencing"] is False and st["warning"].startswith("FENCING IS DISABLED")
    assert lab.holders(VIP) == vip
    assert answer(lab) == vip[0]


def test_a_second_run_changes_nothing(lab):
    for sls, nodes in (("cluster", CONTROLLERS), ("cluster.resources", ["ctl2"])):
        for test in ("test=True", "test=False"):
            out = lab.salt("-L", ",".join(nodes), "state.apply", sls, test, timeout=300)
            for node in nodes:
                states = out[node]
                assert isinstance(states, dict), (node, states)
                changed = {k: v["changes"] for k, v in states.items() if v["changes"]}
                assert not changed, (sls, test, node, changed)
                assert all(v["result"] is True for v in states.values()), (sls, node, states)
    res = lab.salt("ctl2", "state.apply", "cluster.resources")["ctl2"]
    (state,) = res.values()
    assert any("FENCING IS DISABLED" in w for w in state.get("warnings", [])), state


def test_vip_and_service_move_together_when_their_node_dies(lab):
    st = status(lab, "ctl2")
    assert whole(st), st
    holder = where(st, "lab-vip")[0]
    if holder == st["dc"]:
        # Losing the DC costs a DC election on top of the failover; measure the plain case
        # (the lab's ctl1 is the DC, Galera's writer and the API VIPs' holder).
        # The VIP follows the Promoted instance: move the promotion.
        target = [n for n in CONTROLLERS if n != st["dc"]][-1]
        lab.sh("ctl2", "crm_resource", "--move", "--resource", "lab-stateful-clone",
               "--promoted", "--node", target)
        lab.wait_for(lambda: answer(lab) == target, timeout=30,
                     what="the Pacemaker VIP and its service on %s" % target)
        # Drop the move's location constraint; stickiness keeps them where they are.
        lab.sh("ctl2", "crm_resource", "--clear", "--resource", "lab-stateful-clone")
        holder = target
    survivor = [n for n in CONTROLLERS if n != holder][0]
    client = Client()
    client.start()
    time.sleep(1)
    killed = time.monotonic()
    hastack("lab", "kill", holder)
    try:
        lab.wait_for(lambda: answer(lab) not in (None, holder), timeout=60,
                     what="the Pacemaker VIP answering from another node")
        time.sleep(1)
        client.stopping.set()
        client.join()
        gap, failed = client.outage()
        back = next(t for t, who in client.results if t > killed and who not in (None, holder))
        st = status(lab, survivor)
        assert st["quorate"] and st["offline"] == [holder], st
        new = where(st, "lab-vip")
        assert len(new) == 1 and new != [holder] and where(st, "lab-vip-echo") == new, st
        assert where(st, "lab-stateful") == new, st["resources"]
        assert lab.holders(VIP) == new
        print("\nPacemaker failover (%s powered off, DC %s): first answer from %s %.2f s after "
              "`hastack lab kill` began; longest gap %.2f s, %d failed requests (100 ms timeout)"
              % (holder, st["dc"], new[0], back - killed, gap, failed))
        print(json.dumps({"cluster_failover": {"killed": holder, "to": new[0],
                                               "first_answer_s": round(back - killed, 2),
                                               "longest_gap_s": round(gap, 2),
                                               "failed": failed}}))
    finally:
        client.stopping.set()
        hastack("lab", "start", holder)
    # Back whole before the next test: the node's corosync and pacemaker are enabled, so it
    # rejoins by itself; stickiness keeps the VIP where it is now.
    lab.wait_for(lambda: lab.ping([holder]) == {holder}, timeout=120, what="%s's minion"
                 % holder)
    lab.wait_for(lambda: whole(status(lab, survivor)), timeout=120,
                 what="%s online in the cluster again" % holder)
    assert where(status(lab, survivor), "lab-vip") == new
    # The returned node's instance runs again, Unpromoted: the promotion stays.
    lab.wait_for(lambda: status(lab, survivor)["resources"]["lab-stateful"]["instances"].get(
        holder) == "Unpromoted", timeout=60, what="%s's instance back, Unpromoted" % holder)
    assert where(status(lab, survivor), "lab-stateful") == new
