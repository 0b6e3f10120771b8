import json

import pytest

from hastack import rabbitmq, topology

STATUS = json.dumps({
    "disk_nodes": ["rabbit@ctl1", "rabbit@ctl2", "rabbit@ctl3"], "ram_nodes": [],
    "running_nodes": ["rabbit@ctl1", "rabbit@ctl2"],
    "partitions": {"rabbit@ctl2": ["rabbit@ctl3"]}, "alarms": [],
    "versions": {"rabbit@ctl1": {"rabbitmq_version": "3.10.8"}}})


def test_parse_status():
    assert rabbitmq.parse_status(STATUS) == {
        "nodes": ["ctl1", "ctl2", "ctl3"], "running": ["ctl1", "ctl2"],
        "partitions": {"ctl2": ["ctl3"]}, "alarms": [], "version": "3.10.8"}


def test_forget_plan_is_the_nodes_that_left_the_pillar(good):
    good["services"]["rabbitmq"]["nodes"] = ["ctl1", "ctl2"]
    assert rabbitmq.forget_plan(good, rabbitmq.parse_status(STATUS)) == ["ctl3"]


def test_config_listens_on_the_node_address_and_pauses_the_minority(good):
    conf = rabbitmq.render_config(good, "ctl2")
    assert "listeners.tcp.1 = 198.18.10.12:5672" in conf
    assert "distribution.listener.interface = 198.18.10.12" in conf
    assert "cluster_partition_handling = pause_minority" in conf
    assert rabbitmq.render_env("ctl2").endswith("NODENAME=rabbit@ctl2\n")


def test_users_have_generated_passwords_and_no_guest(good):
    users = rabbitmq.users(good)
    assert set(users) == {"hastack", "openstack"}
    assert users["hastack"]["tags"] == ["administrator"]
    assert users["openstack"]["password"] == good["secrets"]["rabbitmq_users"]["openstack"]


def test_queue_policy():
    topo = {"services": {"rabbitmq": {"queues": "quorum"}}}
    assert rabbitmq.queue_policy(topo, "3.10.8") is None
    topo["services"]["rabbitmq"]["queues"] = "classic_mirrored"
    assert rabbitmq.queue_policy(topo, "3.10.8")["definition"]["ha-mode"] == "all"
    with pytest.raises(ValueError, match="removed classic mirroring: use quorum"):
        rabbitmq.queue_policy(topo, "4.0.5")


@pytest.mark.parametrize("mutate,field,words", [
    (lambda t: t["services"]["rabbitmq"].update(queues="lazy"),
     "hastack:services:rabbitmq:queues", "not one of quorum, classic_mirrored"),
    (lambda t: t["services"]["rabbitmq"].update(users={"guest": {}}),
     "hastack:services:rabbitmq:users", "'guest' is reserved"),
    (lambda t: t["services"]["rabbitmq"].update(users={"nova": {}}),
     "hastack:secrets:rabbitmq_users:nova", "missing"),
])
def test_malformed_rabbitmq_settings_are_refused(good, mutate, field, words):
    mutate(good)
    assert [e for e in topology.validate(good) if e.startswith(field + ":") and words in e]


def test_secrets_generate_a_password_per_user(good):
    from hastack import secrets

    values, added = secrets.complete({}, good)
    assert "rabbitmq_users:openstack" in added
    assert len(values["rabbitmq_users"]["openstack"]) >= 16


def test_a_member_that_joined_later_is_grown_onto_every_quorum_queue(good):
    good["services"]["rabbitmq"]["nodes"] = ["ctl1", "ctl2", "ctl3"]
    status = {"running": ["ctl1", "ctl2", "ctl3"]}
    queues = {"orders": {"type": "quorum", "members": ["ctl1", "ctl2"]},
              "events": {"type": "quorum", "members": ["ctl1", "ctl2", "ctl3"]},
              "old": {"type": "classic", "members": []}}
    assert rabbitmq.grow_plan(good, status, queues) == {"ctl3": ["orders"]}


def test_a_member_not_running_is_not_grown_onto(good):
    good["services"]["rabbitmq"]["nodes"] = ["ctl1", "ctl2", "ctl3"]
    queues = {"orders": {"type": "quorum", "members": ["ctl1", "ctl2"]}}
    assert rabbitmq.grow_plan(good, {"running": ["ctl1", "ctl2"]}, queues) == {}
