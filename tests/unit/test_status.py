"""hastack.status: the raw answers of every node turned into one report and one table.
Each case breaks one thing in an all-green set of answers and checks the section that must
turn red, the problem sentence that names it, and that the table says so too."""

import copy
import json

import pytest

from hastack import status

CTL = ["ctl1", "ctl2", "ctl3"]
NODES = CTL + ["net1", "net2"]
UUID = "5ee99582-bb8d-11e2-b8e3-23de375c1d30"


def galera_ok(seqno=100, size=3):
    return {"state": 4, "state_comment": "Synced", "synced": True, "primary": True,
            "ready": True, "cluster_size": size, "cluster_uuid": UUID, "last_committed": seqno}


def rabbit_ok():
    return {"nodes": list(CTL), "running": list(CTL), "partitions": {}, "alarms": [],
            "version": "3.12.1"}


def keystone_ok(node):
    return {"ok": True, "url": "http://198.18.10.1%s:5000/v3" % node[-1], "status": 200,
            "seconds": 0.012, "error": None}


def green_answers():
    backends = {"galera": {n: "UP" for n in CTL}, "keystone": {n: "UP" for n in CTL}}
    return {
        "ping": {n: True for n in NODES},
        "vips": {"ctl1": {"api": {"address": "198.18.10.100", "link": "host0"},
                          "db": {"address": "198.18.10.101", "link": "host0"}},
                 "ctl2": {"api2": {"address": "198.18.10.102", "link": "host0"}},
                 "ctl3": {}},
        "haproxy": {n: copy.deepcopy(backends) for n in CTL},
        "galera": {n: galera_ok(100 + i) for i, n in enumerate(CTL)},
        "rabbitmq": {n: rabbit_ok() for n in CTL},
        "keystone": {n: keystone_ok(n) for n in CTL},
        "catalog": {"ok": True, "problems": [], "error": None},
        "catalog_node": "ctl1",
    }


def node_down(a, node="net2"):
    for section in ("ping", "vips", "haproxy", "galera", "rabbitmq", "keystone"):
        a[section].pop(node, None)


def ctl3_down(a):
    node_down(a, "ctl3")
    for n in ("ctl1", "ctl2"):
        a["galera"][n]["cluster_size"] = 2
        a["rabbitmq"][n]["running"] = ["ctl1", "ctl2"]
        for svc in ("galera", "keystone"):
            a["haproxy"][n][svc]["ctl3"] = "DOWN"


def vip_twice(a):
    a["vips"]["ctl2"]["api"] = {"address": "198.18.10.100", "link": "host0"}


def vip_nobody(a):
    a["vips"]["ctl2"] = {}


def galera_donor(a):
    a["galera"]["ctl2"].update(state=2, state_comment="Donor/Desynced", synced=False)


def galera_silent(a):
    a["galera"]["ctl3"] = None


def galera_small(a):
    a["galera"]["ctl1"]["cluster_size"] = 2


def rabbit_partition(a):
    a["rabbitmq"]["ctl1"]["partitions"] = {"ctl1": ["ctl3"]}
    a["rabbitmq"]["ctl1"]["running"] = ["ctl1", "ctl2"]


def rabbit_alarm(a):
    a["rabbitmq"]["ctl2"]["alarms"] = [{"node": "rabbit@ctl2", "resource": "disk",
                                        "type": "resource_alarm"}]


def keystone_503(a):
    a["keystone"]["ctl2"].update(ok=False, status=503)


def keystone_missing(a):
    a["keystone"]["ctl3"] = "'ha_keystone.health' is not available."


def backend_down(a):
    a["haproxy"]["ctl1"]["keystone"]["ctl2"] = "DOWN"
    a["haproxy"]["ctl2"]["keystone"]["ctl2"] = "DOWN"


def haproxy_silent(a):
    a["haproxy"]["ctl2"] = "The minion function caused an exception: ConnectionRefusedError"


def catalog_wrong(a):
    a["catalog"] = {"ok": False, "error": None, "problems": [
        "identity public endpoint is http://198.18.10.11:5000/v3, expected "
        "http://198.18.10.100:5000/v3"]}


def catalog_unchecked(a):
    a["catalog"] = None


def catalog_error(a):
    a["catalog"] = {"ok": False, "problems": [], "error": "401 Unauthorized"}


# (case, break the answers, sections that turn red, words in a problem, words in the table)
CASES = [
    ("node-down", node_down, {"nodes"}, "node net2 (198.18.10.15) is down", "network     DOWN"),
    ("controller-down", ctl3_down, {"nodes", "haproxy", "galera", "rabbitmq", "keystone"},
     "galera on ctl1 sees a cluster of 2, expected 3", "2/3"),
    ("vip-held-twice", vip_twice, {"vips"},
     "VIP api (198.18.10.100) is held by 2 nodes at once: ctl1, ctl2", "split-brain"),
    ("vip-held-by-nobody", vip_nobody, {"vips"}, "VIP api2 (198.18.10.102) is held by no node",
     "missing"),
    ("galera-not-synced", galera_donor, {"galera"},
     "galera on ctl2 is not Synced in a Primary component (state Donor/Desynced",
     "Donor/Desynced"),
    ("galera-not-answering", galera_silent, {"galera"},
     "galera on ctl3: MariaDB does not answer", "MariaDB not answering"),
    ("galera-small-cluster", galera_small, {"galera"},
     "galera on ctl1 sees a cluster of 2, expected 3", "2/3"),
    ("rabbitmq-partition", rabbit_partition, {"rabbitmq"},
     "rabbitmq: network partition: ctl1 is cut off from ctl3", "ctl1 vs ctl3"),
    ("rabbitmq-alarm", rabbit_alarm, {"rabbitmq"}, "rabbitmq: disk alarm on ctl2",
     "disk alarm on ctl2"),
    ("keystone-unhealthy", keystone_503, {"keystone"},
     "keystone on ctl2 is unhealthy: HTTP 503 from http://198.18.10.12:5000/v3", "FAIL"),
    ("keystone-module-missing", keystone_missing, {"keystone"},
     "keystone on ctl3 did not report its health ('ha_keystone.health' is not available.)",
     "not available"),
    ("backend-down", backend_down, {"haproxy"}, "haproxy: keystone backend ctl2 is DOWN on "
     "ctl1, ctl2", "DOWN"),
    ("haproxy-not-answering", haproxy_silent, {"haproxy"},
     "haproxy on ctl2 did not report its backends (The minion function caused an exception",
     "The minion function"),
    ("catalog-wrong", catalog_wrong, {"keystone"},
     "keystone catalog: identity public endpoint is http://198.18.10.11:5000/v3", "WRONG"),
    ("catalog-not-checked", catalog_unchecked, {"keystone"},
     "keystone catalog was not checked", "catalog: UNKNOWN"),
    ("catalog-check-failed", catalog_error, {"keystone"},
     "keystone catalog check failed: 401 Unauthorized", "401 Unauthorized"),
]


def test_all_green(good):
    report = status.summarize(good, green_answers())
    assert report["green"] is True and report["problems"] == []
    assert set(report) == {"green", "problems", "nodes", "vips", "haproxy", "galera",
                           "rabbitmq", "keystone"}
    assert all(report[s]["ok"] for s in status.SECTIONS)
    assert report["vips"]["vips"]["api2"] == {"address": "198.18.10.102", "holders": ["ctl2"],
                                              "status": "ok"}
    assert report["galera"]["nodes"]["ctl3"]["seqno"] == 102
    assert report["keystone"]["catalog"]["checked_on"] == "ctl1"
    json.dumps(report)  # --out=json
    text = status.render(report)
    assert text.startswith("hastack status: GREEN\n")
    assert "Problems" not in text and "PROBLEM" not in text
    assert "catalog: right" in text


@pytest.mark.parametrize("case, breaks, red, problem, shown", CASES,
                         ids=[c[0] for c in CASES])
def test_one_fault(good, case, breaks, red, problem, shown):
    answers = green_answers()
    breaks(answers)
    report = status.summarize(good, answers)
    assert report["green"] is False
    assert {s for s in status.SECTIONS if not report[s]["ok"]} == red
    assert any(problem in p for p in report["problems"]), report["problems"]
    text = status.render(report)
    assert text.startswith("hastack status: NOT GREEN, %d problem" % len(report["problems"]))
    assert problem in text and shown in text
    assert "\x1b" not in text


def test_a_down_node_is_named_once_not_in_every_service(good):
    answers = green_answers()
    ctl3_down(answers)
    problems = status.summarize(good, answers)["problems"]
    assert sum("ctl3" in p and "down" in p and "backend" not in p for p in problems) == 1
    assert not any("did not report" in p for p in problems)
    assert "rabbitmq: ctl3 is not running (seen from ctl1, ctl2)" in problems
    assert "haproxy: galera backend ctl3 is DOWN on ctl1, ctl2" in problems


def test_a_silent_vip_node_makes_the_vip_unknown(good):
    answers = green_answers()
    answers["vips"]["ctl2"] = "'ha_vip.held' is not available."
    report = status.summarize(good, answers)
    assert report["vips"]["vips"]["api2"]["status"] == "unknown"
    assert "VIP api2 (198.18.10.102) has no holder among the nodes that answered; ctl2 did " \
           "not answer" in report["problems"]


def test_galera_split_into_two_clusters(good):
    answers = green_answers()
    answers["galera"]["ctl3"]["cluster_uuid"] = "6ff00000-bb8d-11e2-b8e3-23de375c1d30"
    report = status.summarize(good, answers)
    assert not report["galera"]["ok"]
    assert any(p.startswith("galera members are in different clusters") for p in
               report["problems"])


def test_rabbitmq_node_outside_the_cluster_and_a_stranger(good):
    answers = green_answers()
    for n in CTL:
        answers["rabbitmq"][n]["nodes"] = ["ctl1", "ctl2", "old4"]
        answers["rabbitmq"][n]["running"] = ["ctl1", "ctl2", "old4"]
    problems = status.summarize(good, answers)["problems"]
    assert "rabbitmq: ctl3 is not in the cluster (seen from ctl1, ctl2, ctl3)" in problems
    assert any(p.startswith("rabbitmq: cluster node old4 is not in") for p in problems)


def test_a_service_missing_from_the_topology_has_no_section(good):
    del good["services"]["keystone"]
    answers = green_answers()
    del answers["keystone"], answers["catalog"]
    for n in CTL:
        del answers["haproxy"][n]["keystone"]
    report = status.summarize(good, answers)
    assert "keystone" not in report and report["green"] is True
    assert "Keystone" not in status.render(report)
    del good["services"]["rabbitmq"]
    assert "rabbitmq" not in status.summarize(good, answers)


def test_no_vips_no_haproxy(good):
    good["vips"] = {}
    for svc in good["services"].values():
        svc.pop("vip", None)
    report = status.summarize(good, green_answers())
    assert "vips" not in report and "haproxy" not in report
    assert report["green"] is True


def test_nothing_answered(good):
    report = status.summarize(good, {})
    assert report["green"] is False
    assert not any(report[s]["ok"] for s in status.SECTIONS)
    assert len([p for p in report["problems"] if p.startswith("node ")]) == 5
    status.render(report)  # renders without data


def test_the_table_has_fixed_width_columns(good):
    answers = green_answers()
    text = status.render(status.summarize(good, answers))
    block = text.split("\n\n")[1].splitlines()
    assert block[0] == "Nodes: ok"
    header, first = block[1], block[2]
    assert header.index("address") == first.index("198.18.10.11")
    assert header.index("state") == first.index("up")
