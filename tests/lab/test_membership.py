"""Membership under load: a 4th controller is added with the user's commands
(`hastack lab up --controllers 4`: the node boots, the pillar names it, one `orch.deploy`)
and removed again (`--controllers 3`: `orch.deploy` drains it, then the lab deletes it),
while tokens, acknowledged writes and confirmed messages run through the VIPs. After each
step every layer's own view of its membership is read: Corosync, Pacemaker, Galera (with
the arbitrator an even cluster needs), RabbitMQ and its quorum queues, keepalived's peers,
haproxy's backends, Keystone. How long each step took is a figure (bench/chaos.py prints
it, chaos-figures.jsonl keeps it), not an assertion. Last, a RabbitMQ node dropped from the
pillar is forgotten by one orch.deploy and comes back with the next (two deploys, 7-8 min:
with these, out of `make test`'s time)."""

import pytest
import yaml

from hastack.lab import layout, load
from hastack.lab.chaos import Chaos
from hastack.lab.client import hastack

pytestmark = pytest.mark.timeout(2400)

THREE = ["ctl1", "ctl2", "ctl3"]
FOUR = THREE + ["ctl4"]


@pytest.fixture(scope="module")
def chaos(lab):
    yield Chaos(lab, progress=print)
    # Whatever happened, the next tests get the 3-controller lab back.
    if lab.lab.saved().get("controllers") != 3:
        hastack("lab", "up", "--controllers", "3", check=False)


def _one(answers, node):
    got = answers.get(node)
    assert isinstance(got, (dict, list)), (node, got)
    return got


def assert_membership(lab, controllers):
    """Every layer, as it sees itself, has exactly ``controllers`` as members."""
    wanted = sorted(controllers)
    others = sorted(set(FOUR) - set(controllers))
    # Corosync and Pacemaker.
    st = _one(lab.salt("ctl1", "ha_cluster.status"), "ctl1")
    assert st["quorate"] and sorted(st["corosync"]["members"]) == wanted, st["corosync"]
    assert sorted(st["online"]) == wanted and st["ok"], st["problems"]
    # Galera: every member Synced in one Primary component; an even count has garbd on net1.
    arbitrator = len(controllers) % 2 == 0
    size = str(len(controllers) + (1 if arbitrator else 0))
    for node in controllers:
        n = lab.lab.node(node)
        assert load.wsrep(n, "wsrep_local_state_comment") == "Synced", node
        assert load.wsrep(n, "wsrep_cluster_size") == size, node
    garb = lab.sh("net1", "systemctl", "is-active", "garb").stdout.strip()
    assert garb == ("active" if arbitrator else "inactive"), garb
    # RabbitMQ: the cluster's nodes, and every quorum queue has a replica on each of them.
    rabbit = _one(lab.salt("ctl1", "ha_rabbitmq.status"), "ctl1")
    assert sorted(rabbit["nodes"]) == wanted and sorted(rabbit["running"]) == wanted, rabbit
    queues = _one(lab.salt("ctl1", "ha_rabbitmq.queues"), "ctl1")
    quorum = {q: v["members"] for q, v in queues.items() if v["type"] == "quorum"}
    assert quorum, queues
    short = {q: sorted(m) for q, m in quorum.items() if sorted(m) != wanted}
    assert not short, short
    # keepalived's peers and haproxy's backends on every load balancer.
    for node in controllers:
        conf = lab.sh(node, "cat", "/etc/keepalived/keepalived.conf").stdout
        peers = {n: str(layout.node_address(n)) in conf for n in FOUR if n != node}
        assert peers == {n: n in controllers for n in peers}, (node, peers)
        backends = _one(lab.salt(node, "ha_haproxy.backends"), node)
        for backend in ("keystone", "galera"):
            assert sorted(backends[backend]) == wanted, (node, backend, backends[backend])
        assert all(s.startswith("UP") for s in backends["keystone"].values()), (node, backends)
    # Keystone answers on every member, and the departed node no longer runs anything.
    for node in controllers:
        assert lab.get(str(layout.node_address(node)), 5000, "/v3", timeout=5)[0] == 200, node
    # A removed node is gone from the lab (`hastack lab up` deleted it after the drain).
    for node in others:
        assert node not in lab.lab.saved()["nodes"], node


def check_load(figures):
    assert figures["rows_acked"] > 20 and figures["messages_confirmed"] > 20, figures
    assert figures["token_failed"] == 0, figures
    assert figures["rows_lost"] == 0, figures
    assert figures["messages_lost"] == 0, figures
    assert figures["green_after_s"] is not None, figures


def test_a_fourth_controller_joins_every_layer_under_load(lab, chaos):
    check_load(chaos.run("add-controller", **dict(chaos.scenarios())["add-controller"]))
    assert_membership(lab, FOUR)
    mark = _one(lab.salt("ctl4", "grains.get", "hastack"), "ctl4")
    assert {"galera", "rabbitmq", "keystone", "loadbalancer", "cluster"} <= set(mark["parts"])


def test_the_fourth_controller_is_drained_and_removed_under_load(lab, chaos):
    check_load(chaos.run("remove-controller",
                         **dict(chaos.scenarios())["remove-controller"]))
    assert_membership(lab, THREE)
    # Nothing is left to drain: a second rollout finds no departed node.
    res = lab.salt_run("hastack.drain_departed", "--out=json")
    assert res.returncode == 0 and "no departed node" in res.stdout, res.stdout


def _deploy(lab):
    res = lab.salt_run("state.orchestrate", "orch.deploy", timeout=1200)
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-2000:]


@pytest.mark.usefixtures("healing_paused")
def test_a_rabbitmq_node_removed_from_the_pillar_is_forgotten_and_can_come_back(lab):
    """Last in this module: healing stays paused from here to the end of the module (the
    node that leaves the RabbitMQ cluster must not be restarted by the beacon meanwhile)."""
    path = lab.lab.topology_path
    good = open(path).read()
    doc = yaml.safe_load(good)
    doc["hastack"]["services"]["rabbitmq"]["nodes"] = ["ctl1", "ctl2"]
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    try:
        _deploy(lab)
        st = lab.salt("ctl1", "ha_rabbitmq.status")["ctl1"]
        assert (st["nodes"], st["running"]) == (["ctl1", "ctl2"], ["ctl1", "ctl2"])
        assert lab.sh("ctl3", "systemctl", "is-active", "rabbitmq-server").stdout.strip() \
            != "active"
    finally:
        with open(path, "w") as f:
            f.write(good)
    _deploy(lab)
    assert lab.salt("ctl1", "ha_rabbitmq.status")["ctl1"]["running"] == THREE
