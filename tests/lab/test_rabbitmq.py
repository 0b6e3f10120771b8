"""RabbitMQ in the lab: one cluster of the pillar's members with no partitions, guest gone,
no confirmed message lost when a quorum queue's leader node is killed -9, the killed node
back in the cluster, classic mirroring when the pillar asks. A node removed from the pillar
(forgotten, then added back: two orch.deploys) is tested with the other membership changes,
in tests/lab/test_membership.py."""

import os
import pika
import pytest
import yaml

from hastack.lab import load

# Faults injected here test Galera's, keepalived's and RabbitMQ's own handling: healing paused.
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("healing_paused")]

MEMBERS = ["ctl1", "ctl2", "ctl3"]
ADDRS = {"ctl1": "198.18.10.11", "ctl2": "198.18.10.12", "ctl3": "198.18.10.13"}
QUEUE = "hastack-test-quorum"


def status(lab, node="ctl1"):
    return lab.salt(node, "ha_rabbitmq.status")[node]


@pytest.fixture(scope="module")
def creds(lab):
    with open(os.path.join(lab.lab.dir, "pillar", "hastack", "secrets.sls")) as f:
        password = yaml.safe_load(f)["hastack"]["secrets"]["rabbitmq_users"]["openstack"]
    return pika.PlainCredentials("openstack", password)


def params(creds, nodes):
    return load.amqp_params(creds, [ADDRS[n] for n in nodes])


def test_one_cluster_of_the_members_without_partitions(lab):
    st = status(lab)
    assert (st["nodes"], st["running"], st["partitions"], st["alarms"]) == (
        MEMBERS, MEMBERS, {}, [])


def test_guest_cannot_log_in(lab):
    with pytest.raises(pika.exceptions.ProbableAuthenticationError):
        pika.BlockingConnection(pika.ConnectionParameters(
            ADDRS["ctl1"], 5672, "/", pika.PlainCredentials("guest", "guest"),
            connection_attempts=1, socket_timeout=2))


def test_no_confirmed_message_lost_when_the_leader_node_dies(lab, creds):
    conn = pika.BlockingConnection(params(creds, MEMBERS))
    conn.channel().queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    conn.close()
    queue = lab.salt("ctl1", "ha_rabbitmq.queues")["ctl1"][QUEUE]
    leader = queue["leader"]
    assert queue["type"] == "quorum" and leader in MEMBERS
    others = [n for n in MEMBERS if n != leader]

    confirmed = load.publish_confirmed(
        params(creds, others), QUEUE, 1000, at=300,
        action=lambda: lab.sh(leader, "systemctl", "kill", "-s", "KILL", "rabbitmq-server"))
    assert len(confirmed) == 1000
    # The kill happened: leadership moved to a surviving node.
    assert lab.salt(others[0], "ha_rabbitmq.queues")[others[0]][QUEUE]["leader"] in others
    consumed = load.consume_all(params(creds, others), QUEUE)
    assert sorted(confirmed - consumed) == []

    # systemd restarts the killed node (Restart=on-failure); it comes back into the cluster.
    lab.wait_for(lambda: status(lab, others[0])["running"] == MEMBERS, timeout=180,
                 what="%s back in the cluster" % leader)


def test_classic_mirroring_by_policy_when_the_pillar_asks(lab):
    path = lab.lab.topology_path
    good = open(path).read()
    doc = yaml.safe_load(good)
    doc["hastack"]["services"]["rabbitmq"]["queues"] = "classic_mirrored"
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    try:
        ret = lab.salt("ctl1", "state.apply", "rabbitmq.cluster")["ctl1"]
        assert all(v["result"] is True for v in ret.values()), ret
        policy = lab.salt("ctl1", "ha_rabbitmq.policies")["ctl1"]["hastack-ha-all"]
        assert policy["definition"] == {"ha-mode": "all", "ha-sync-mode": "automatic"}
    finally:
        with open(path, "w") as f:
            f.write(good)
    lab.salt("ctl1", "state.apply", "rabbitmq.cluster")
    assert "hastack-ha-all" not in lab.salt("ctl1", "ha_rabbitmq.policies")["ctl1"]
