"""Membership: the mark a node carries, which marked minions departed, and the drain order."""

import copy

import pytest

from hastack import galera, membership
from hastack.lab import layout
from test_salt_adapters import load

# The lab's shrink: ctl4 leaves a 4-controller cluster (whose Galera had net1 as arbitrator).
FOUR, THREE = layout.make_topology(4, 2), layout.make_topology(3, 2)


@pytest.fixture
def four(good):
    """The example topology with a fourth controller in every layer and an arbitrator."""
    good["nodes"]["ctl4"] = {"address": "198.18.10.19", "roles": ["controller"]}
    for svc in good["services"].values():
        if "ctl1" in svc.get("nodes", []):
            svc["nodes"].append("ctl4")
    good["services"]["galera"]["arbitrator"] = "net1"
    if good.get("cluster"):
        good["cluster"]["nodes"].append("ctl4")
    return good


def test_a_controller_is_marked_with_everything_it_runs(good):
    got = membership.mark(good, "ctl1")
    assert got["cluster"] == good.get("cluster_name", "hastack")
    assert {"loadbalancer", "galera", "rabbitmq", "keystone"} <= set(got["parts"])
    assert {"haproxy", "keepalived", "rabbitmq-server", "keystone"} <= set(got["units"])


def test_the_arbitrator_is_marked_as_such(four):
    assert "arbitrator" in membership.mark(four, "net1")["parts"]
    assert "arbitrator" not in membership.mark(four, "ctl1")["parts"]


def test_departed_is_a_marked_minion_the_pillar_does_not_name(good):
    name = good.get("cluster_name", "hastack")
    marks = {"ctl1": {"cluster": name}, "ctl9": {"cluster": name},
             "other": {"cluster": "another-cloud"}, "bare": "", "down": None}
    assert membership.departed(good, marks) == ["ctl9"]


def _order(steps):
    return [(s["fun"], s["args"][:1], s["on"]) for s in steps]


def test_a_controller_is_drained_layer_by_layer_in_a_safe_order():
    steps = membership.drain_plan(THREE, "ctl4", membership.mark(FOUR, "ctl4"))
    funs = [s["fun"] for s in steps]
    # Healing stops before anything is stopped, or the reactor would restart it.
    assert steps[0]["fun"] == "grains.delkey" and steps[0]["args"] == ["hastack_healing"]
    assert funs[1] == "beacons.delete"
    # Pacemaker moves its resources off first; then haproxy on the remaining load balancers
    # stops sending new work there; then keepalived stops there (its VIPs move).
    standby, drain, keepalived = (funs.index(f) for f in
                                  ("ha_cluster.standby", "ha_haproxy.drain", "service.stop"))
    assert standby < drain < keepalived
    assert steps[keepalived]["args"] == ["keepalived"]
    assert steps[drain]["on"] == ["ctl1", "ctl2", "ctl3"] and steps[drain]["args"] == ["ctl4"]
    # Queues lose their replica there (asked of a member that stays), then RabbitMQ stops
    # there, then the others forget it.
    shrink, removed, forget = (funs.index(f) for f in
                               ("ha_rabbitmq.shrink", "state.sls", "ha_rabbitmq.forget"))
    assert shrink < removed < forget
    assert steps[shrink]["on"] == "ctl1" and steps[forget]["on"] == "ctl1"
    # MariaDB leaves cleanly once nothing is routed to it; Corosync after the services.
    assert drain < funs.index("ha_galera.stop") < funs.index("ha_cluster.leave")
    # Nothing comes back at boot; the mark goes last.
    disabled = {s["args"][0] for s in steps if s["fun"] == "service.disable"}
    assert {"keepalived", "haproxy", "mariadb", "rabbitmq-server", "keystone", "corosync",
            "pacemaker"} <= disabled
    assert funs[-1] == "grains.delkey"


def test_every_step_but_the_peers_runs_on_the_departed_node():
    steps = membership.drain_plan(THREE, "ctl4", membership.mark(FOUR, "ctl4"))
    peers = {"ha_haproxy.drain", "ha_rabbitmq.shrink", "ha_rabbitmq.forget"}
    assert {s["fun"] for s in steps if s["on"] != "ctl4"} == peers


def test_a_departed_arbitrator_stops_garbd():
    three = layout.make_topology(3, 1)
    steps = membership.drain_plan(three, "net2", membership.mark(layout.make_topology(4, 2),
                                                                 "net2"))
    assert ("service.stop", ["garb"], "net2") not in _order(steps)
    steps = membership.drain_plan(three, "net1", membership.mark(FOUR, "net1"))
    assert ("service.stop", ["garb"], "net1") in _order(steps)
    assert ("service.disable", ["garb"], "net1") in _order(steps)


def test_arbitrator_config_names_every_member_and_the_group(four):
    text = galera.render_arbitrator(four)
    members = [four["nodes"][n]["address"] for n in four["services"]["galera"]["nodes"]]
    assert 'GALERA_NODES="%s"' % ",".join("%s:4567" % a for a in members) in text
    assert 'GALERA_GROUP="%s"' % four.get("cluster_name", "hastack") in text
    assert "gmcast.listen_addr=tcp://%s:4567" % four["nodes"]["net1"]["address"] in text


def test_pacemaker_forgets_a_removed_member_only_once_it_is_offline():
    from hastack import cluster

    mon = {"nodes": {"ctl1": {"online": True}, "ctl2": {"online": True},
                     "ctl3": {"online": True}, "ctl4": {"online": True}}}
    assert cluster.forget_plan(THREE, mon) == []
    mon["nodes"]["ctl4"]["online"] = False
    assert cluster.forget_plan(THREE, mon) == ["ctl4"]
    assert cluster.forget_plan(FOUR, mon) == []


class DrainClient:
    """LocalClient stand-in for hastack.drain_departed: the marked minions answer the grain
    query; every other call is recorded and answered by ``answer(node, fun)``."""

    def __init__(self, marks, answer):
        self.marks, self.answer, self.calls = marks, answer, []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def cmd(self, tgt, fun, arg=(), tgt_type="list", timeout=None, kwarg=None, **kw):
        if tgt_type == "grain":
            return dict(self.marks)
        self.calls.append((fun, tuple(tgt)))
        out = {n: self.answer(n, fun) for n in tgt}
        return {n: a for n, a in out.items() if a is not None}


def drain_runner(tmp_path, client, monkeypatch):
    runner = load("_runners", "hastack", __opts__={"id": "master", "cachedir": str(tmp_path),
                                                   "conf_file": "x"}, __context__={})
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": THREE})
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda conf: client)
    return runner


MARKS = {n: membership.mark(FOUR, n) for n in FOUR["nodes"]}


def test_the_drain_runs_every_step_of_the_plan_in_order(tmp_path, monkeypatch):
    client = DrainClient(MARKS, lambda node, fun: {"result": True} if fun.startswith(
        ("ha_", "beacons", "grains", "state")) else True)
    out = drain_runner(tmp_path, client, monkeypatch).drain_departed()
    assert out["result"] and out["departed"] == ["ctl4"]
    plan = membership.drain_plan(THREE, "ctl4", MARKS["ctl4"])
    assert client.calls == [(s["fun"], tuple(s["on"] if isinstance(s["on"], list)
                                             else [s["on"]])) for s in plan]


def test_the_drain_stops_at_the_first_failed_step(tmp_path, monkeypatch):
    def answer(node, fun):
        if fun == "ha_cluster.standby":
            return {"result": False, "comment": "resources did not move"}
        return {"result": True}

    client = DrainClient(MARKS, answer)
    runner = drain_runner(tmp_path, client, monkeypatch)
    out = runner.drain_departed()
    assert out["result"] is False and out["retcode"] == 1
    assert client.calls[-1][0] == "ha_cluster.standby"
    assert "FAILED: Pacemaker moves its resources off ctl4" in out["steps"][-1]


def test_a_departed_node_that_does_not_answer_is_drained_from_the_peers_side(
        tmp_path, monkeypatch):
    client = DrainClient(MARKS, lambda node, fun: None if node == "ctl4" else {"result": True})
    out = drain_runner(tmp_path, client, monkeypatch).drain_departed()
    assert out["result"]
    assert ("ha_rabbitmq.forget", ("ctl1",)) in client.calls
    assert any(s.endswith("skipped (ctl4 does not answer): MariaDB leaves the Galera cluster "
                          "cleanly on ctl4") for s in out["steps"])


@pytest.mark.parametrize("ret,failed", [
    (True, False), ({"result": True}, False), ({"a": {"result": True}}, False),
    (False, True), ({"result": False}, True), ({"a": {"result": False}}, True),
    ("'ha_cluster.standby' is not available.", True), (["Rendering SLS failed"], True)])
def test_what_counts_as_a_failed_step(tmp_path, monkeypatch, ret, failed):
    runner = drain_runner(tmp_path, DrainClient({}, None), monkeypatch)
    assert runner._step_failed(ret) is failed


def _without_cluster_member(topo, node):
    topo = copy.deepcopy(topo)
    topo["cluster"]["nodes"].remove(node)
    return topo


def test_a_node_that_leaves_only_the_cluster_list_is_found():
    marks = {n: membership.mark(THREE, n) for n in THREE["nodes"]}
    smaller = _without_cluster_member(THREE, "ctl3")
    assert membership.left_cluster(smaller, marks) == ["ctl3"]
    # Not departed (it stays in the pillar), and nothing left once its mark is rewritten.
    assert membership.departed(smaller, marks) == []
    marks["ctl3"] = membership.mark(smaller, "ctl3")
    assert "cluster" not in marks["ctl3"]["parts"] and "galera" in marks["ctl3"]["parts"]
    assert membership.left_cluster(smaller, marks) == []
    # Another cluster's marks, and nodes that never were members, are not touched.
    marks["ctl3"] = dict(membership.mark(THREE, "ctl3"), cluster="another-cloud")
    assert membership.left_cluster(smaller, marks) == []
    assert "cluster" not in marks["net1"]["parts"]


def test_leaving_the_cluster_moves_resources_then_stops_and_disables_only_the_cluster():
    steps = membership.leave_cluster_plan("net1")
    # Healing off first: the pillar may already give hastack the units Pacemaker stops.
    assert [(s["fun"], s["args"]) for s in steps] == [
        ("grains.delkey", ["hastack_healing"]), ("ha_cluster.standby", []), ("ha_cluster.leave", []),
        ("service.stop", ["pacemaker"]), ("service.disable", ["pacemaker"]),
        ("service.stop", ["corosync"]), ("service.disable", ["corosync"])]
    assert {s["on"] for s in steps} == {"net1"}


def test_the_drain_takes_a_node_out_of_the_cluster_and_leaves_the_rest(tmp_path, monkeypatch):
    marks = dict(MARKS)
    del marks["ctl4"]
    topo = _without_cluster_member(THREE, "ctl3")
    client = DrainClient(marks, lambda node, fun: {"result": True})
    runner = drain_runner(tmp_path, client, monkeypatch)
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": topo})
    out = runner.drain_departed()
    assert out["result"] and out["departed"] == [] and out["left_cluster"] == ["ctl3"]
    assert client.calls == [(s["fun"], ("ctl3",)) for s in
                            membership.leave_cluster_plan("ctl3")]
    assert out["steps"][-1].endswith("ctl3 is out of the cluster")
