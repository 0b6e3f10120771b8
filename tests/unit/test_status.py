"""hastack.status: the raw answers of every node turned into one report and one table.
Each case breaks one thing in an all-green set of answers and checks the section that must
turn red, the problem sentence that names it, and that the table says so too."""

import copy
import importlib.util
import json
import os

import pytest

from conftest import REPO
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


def keystone_timeout(a):
    a["keystone"]["ctl3"].update(ok=False, status=None, seconds=2.01,
                                 error="Request to http://198.18.10.13:5000/v3 timed out")


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
    ("keystone-timeout", keystone_timeout, {"keystone"},
     "keystone on ctl3 is unhealthy: Request to http://198.18.10.13:5000/v3 timed out", "2.010"),
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
    assert set(report) == {"green", "problems", "warnings", "nodes", "vips", "haproxy",
                           "galera", "rabbitmq", "keystone"}
    assert all(report[s]["ok"] for s in status.SECTIONS if s in report)
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
    assert {s for s in status.SECTIONS if s in report and not report[s]["ok"]} == red
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
    assert not any(report[s]["ok"] for s in status.SECTIONS if s in report)
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


def test_plan_asks_each_layer_of_its_own_nodes(good):
    assert status.plan(good) == [
        ("vips", "ha_vip.held", CTL), ("haproxy", "ha_haproxy.backends", CTL),
        ("galera", "ha_galera.status", CTL), ("rabbitmq", "ha_rabbitmq.status", CTL),
        ("keystone", "ha_keystone.health", CTL)]
    good["loadbalancer"]["nodes"] = ["net1", "net2"]
    del good["services"]["keystone"], good["services"]["rabbitmq"]
    assert status.plan(good) == [
        ("vips", "ha_vip.held", ["net1", "net2", "ctl1", "ctl2", "ctl3"]),
        ("haproxy", "ha_haproxy.backends", ["net1", "net2"]),
        ("galera", "ha_galera.status", CTL)]


@pytest.mark.parametrize("ping, health, expected", [
    ({"ctl1": True, "ctl2": True}, {"ctl1": {"ok": False}, "ctl2": {"ok": True}}, "ctl1"),
    ({"ctl2": True, "ctl3": True}, {"ctl3": {"ok": True}}, "ctl3"),
    ({"ctl2": True}, {"ctl2": "'ha_keystone.health' is not available."}, "ctl2"),
    ({"net1": True}, {}, None),
])
def test_catalog_node_is_the_first_keystone_node_that_answered(good, ping, health, expected):
    assert status.catalog_node(good, {"ping": ping, "keystone": health}) == expected


# -- the runner: asks only what the plan says, of the nodes that answered the ping ----------

FUNS = {"test.ping": "ping", "ha_vip.held": "vips", "ha_haproxy.backends": "haproxy",
        "ha_galera.status": "galera", "ha_rabbitmq.status": "rabbitmq",
        "ha_keystone.health": "keystone", "ha_neutron.health": "neutron",
        "ha_cluster.status": "cluster"}


class FakeClient:
    """LocalClient.cmd over canned answers, one set per round (a round starts with
    test.ping); records every call, and the timeout of each function."""

    def __init__(self, *rounds):
        self.rounds, self.calls, self.timeouts, self.multi = list(rounds), [], {}, []

    def asked(self, fun):
        """The nodes asked ``fun``, in the order asked, over every call."""
        return [n for f, nodes in self.calls if f == fun for n in nodes]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def cmd(self, nodes, fun, arg=None, tgt_type=None, timeout=None, **kwargs):
        assert tgt_type == "list"
        if isinstance(fun, list):
            # A multi-function call: one answer per function per node that returned.
            assert arg == [[] for _ in fun]
            self.multi.append((list(fun), list(nodes)))
            got = {f: self.cmd(nodes, f, tgt_type=tgt_type, timeout=timeout) for f in fun}
            return {n: {f: got[f][n] for f in fun} for n in nodes}
        if fun == "test.ping" and self.calls and len(self.rounds) > 1:
            self.rounds.pop(0)
        self.calls.append((fun, list(nodes)))
        self.timeouts[fun] = timeout
        answers = self.rounds[0]
        if fun == "ha_keystone.catalog_check":
            return {nodes[0]: answers["catalog"]}
        if fun == "ha_neutron.agents":
            return {nodes[0]: answers["neutron_agents"]}
        got = answers[FUNS[fun]]
        # What LocalClient.cmd gives for a targeted minion that did not return.
        return {n: got.get(n, "Minion did not return. [No response]\nThe minions may not "
                               "have all finished running") for n in nodes}


def runner_with(good, monkeypatch, client, output=None):
    path = os.path.join(REPO, "_runners", "hastack.py")
    spec = importlib.util.spec_from_file_location("test_status_runner", path)
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.__opts__ = {"id": "master", "conf_file": "/dev/null", "output": output}
    runner.__context__ = {}
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": good})
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda conf: client)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    return runner


def test_runner_asks_only_the_nodes_that_answered_the_ping(good, monkeypatch, capsys):
    answers = green_answers()
    answers["ping"]["net2"] = False  # a minion that answered something other than True
    node_down(answers, "ctl3")
    client = FakeClient(answers)
    runner = runner_with(good, monkeypatch, client)
    assert runner.status()["retcode"] == 1
    assert "ctl3  node down" in capsys.readouterr().out
    assert client.calls[0] == ("test.ping", NODES)
    assert client.asked("ha_galera.status") == ["ctl1", "ctl2"]
    assert client.asked("ha_keystone.catalog_check") == ["ctl1"]
    assert all("ctl3" not in nodes for fun, nodes in client.calls[1:])


def test_runner_a_node_that_does_not_return_is_unknown(good, monkeypatch):
    answers = green_answers()
    del answers["vips"]["ctl1"]  # answered the ping, then gave no answer to ha_vip.held
    runner = runner_with(good, monkeypatch, FakeClient(answers), output="json")
    report = runner.status()
    assert report["vips"]["vips"]["api"]["status"] == "unknown"
    assert report["vips"]["ok"] is False


def test_runner_text_green_and_red(good, monkeypatch, capsys):
    runner = runner_with(good, monkeypatch, FakeClient(green_answers()))
    out = runner.status()
    assert out.startswith("hastack status: GREEN") and "retcode" not in runner.__context__
    answers = green_answers()
    keystone_503(answers)
    runner = runner_with(good, monkeypatch, FakeClient(answers))
    ret = runner.status()
    assert ret == {"green": False, "problems": 1, "retcode": 1}
    assert runner.__context__["retcode"] == 1
    printed = capsys.readouterr().out
    assert printed.startswith("hastack status: NOT GREEN, 1 problem")
    assert "keystone on ctl2 is unhealthy" in printed


@pytest.mark.parametrize("output, kwargs", [("json", {}), (None, {"out": "json"})])
def test_runner_json_is_the_report_with_a_retcode(good, monkeypatch, output, kwargs):
    answers = green_answers()
    rabbit_partition(answers)
    runner = runner_with(good, monkeypatch, FakeClient(answers), output=output)
    report = runner.status(**kwargs)
    assert report["green"] is False and report["retcode"] == 1
    assert report["rabbitmq"]["ok"] is False
    json.dumps(report)


def test_runner_wait_asks_again_until_green(good, monkeypatch):
    red = green_answers()
    galera_donor(red)
    client = FakeClient(red, green_answers())
    runner = runner_with(good, monkeypatch, client, output="json")
    report = runner.status(wait=30)
    assert report["green"] is True and "retcode" not in report
    assert [fun for fun, _ in client.calls].count("test.ping") == 2


# -- the Corosync/Pacemaker section (hastack:cluster) -----------------------------------------

CLUSTER_OUT = os.path.join(REPO, "tests", "unit", "cluster_output")


@pytest.fixture
def clustered(good):
    from test_cluster import LAB_CLUSTER
    good["cluster"] = copy.deepcopy(LAB_CLUSTER)
    return good


def cluster_answers(topo, edit=None):
    """green_answers() plus every member's ha_cluster.status, from crm_mon output captured
    in the lab (``edit`` changes the XML first)."""
    from hastack import cluster
    with open(os.path.join(CLUSTER_OUT, "crm_mon_started.xml")) as f:
        text = f.read()
    text = edit(text) if edit else text
    answers = green_answers()
    answers["cluster"] = {n: cluster.summary(topo, cluster.parse_crm_mon(text)) for n in CTL}
    return answers


def test_cluster_green_but_loud_without_fencing(clustered):
    report = status.summarize(clustered, cluster_answers(clustered))
    assert report["green"] is True and report["cluster"]["ok"] is True
    assert report["cluster"]["resources"]["lab-vip"] == {"role": "Started", "nodes": ["ctl1"]}
    assert report["cluster"]["seen_from"] == "ctl1"
    assert len(report["warnings"]) == 1 and "FENCING IS DISABLED" in report["warnings"][0]
    text = status.render(report)
    lines = text.splitlines()
    assert lines[0] == "hastack status: GREEN"
    assert lines[1].startswith("!!! WARNING: FENCING IS DISABLED (hastack:cluster:fencing: "
                               "disabled-i-accept-split-brain)")
    assert "Corosync/Pacemaker (hastack:cluster): ok" in text
    assert "quorum: yes (seen from ctl1), DC ctl1, online: ctl1,ctl2,ctl3, offline: none" in text
    assert "fencing: DISABLED (hastack:cluster:fencing: disabled-i-accept-split-brain)" in text


def test_cluster_with_fence_devices_has_no_warning(clustered):
    clustered["cluster"]["fencing"] = [
        {"name": "fence-%s" % n, "agent": "fence_ipmilan", "params": {}, "nodes": [n]}
        for n in CTL]
    report = status.summarize(clustered, cluster_answers(clustered))
    assert report["warnings"] == [] and report["cluster"]["fencing"] is True
    assert "cluster resource fence-ctl1 is not configured" in report["problems"]
    assert "fencing: on" in status.render(report)


def test_cluster_member_offline_and_a_fail_count(clustered):
    def edit(text):
        text = text.replace('name="ctl3" id="13" online="true"',
                            'name="ctl3" id="13" online="false"')
        return text.replace('<resource_history id="lab-vip-echo" orphan="false"',
                            '<resource_history id="lab-vip-echo" fail-count="2" orphan="false"')
    answers = cluster_answers(clustered, edit)
    node_down(answers, "ctl3")
    answers["cluster"].pop("ctl3", None)
    report = status.summarize(clustered, answers)
    assert report["cluster"]["ok"] is False and report["cluster"]["offline"] == ["ctl3"]
    assert "cluster nodes offline: ctl3" in report["problems"]
    assert any(p.startswith("cluster resource lab-vip-echo has fail count 2 on ctl1")
               for p in report["problems"])
    assert "offline: ctl3" in status.render(report)


def test_cluster_without_quorum_anywhere(clustered):
    answers = cluster_answers(clustered, lambda t: t.replace('with_quorum="true"',
                                                             'with_quorum="false"'))
    answers["cluster"]["ctl2"] = None
    report = status.summarize(clustered, answers)
    assert report["cluster"]["quorate"] is False
    assert "cluster has no quorum on any member that answered (ctl1, ctl3)" in report["problems"]
    assert "cluster on ctl2: Pacemaker does not answer (crm_mon failed)" in report["problems"]
    assert "quorum: NO" in status.render(report)


def test_cluster_member_outside_the_quorate_partition(clustered):
    answers = cluster_answers(clustered)
    answers["cluster"]["ctl3"] = dict(answers["cluster"]["ctl3"], quorate=False)
    report = status.summarize(clustered, answers)
    assert report["cluster"]["ok"] is False
    assert ("cluster: ctl3 is outside the quorate partition (it sees no quorum)"
            in report["problems"])


def test_plan_and_runner_ask_the_cluster_members(clustered, monkeypatch):
    assert ("cluster", "ha_cluster.status", CTL) in status.plan(clustered)
    client = FakeClient(cluster_answers(clustered))
    report = runner_with(clustered, monkeypatch, client, output="json").status()
    assert client.asked("ha_cluster.status") == CTL
    assert report["green"] is True and report["cluster"]["ok"] is True
    assert report["warnings"]


# -- the Neutron section (hastack:services:neutron) ---------------------------------------

STARTED = "2026-11-23 09:00:00"


@pytest.fixture
def plane(good):
    """The example topology plus Neutron (servers on the controllers, agents on net1 and
    net2, active_active) and its secrets, as tests/unit/test_neutron.py builds it."""
    from hastack import neutron, topology
    good["services"]["neutron"] = {"nodes": list(CTL), "port": 9696, "vip": "api2",
                                   "check": {"path": "/", "expect": 200},
                                   "agents": {"nodes": ["net1", "net2"]}}
    for key in neutron.SECRETS:
        good["secrets"][key] = "s3cr3t-%s-abcdefgh" % key
    assert topology.validate(good) == []
    return good


def neutron_ok(node):
    return {"ok": True, "url": "http://198.18.10.1%s:9696/" % node[-1], "status": 200,
            "seconds": 0.021, "error": None}


def agent(kind, host, alive=True, routers=(), networks=()):
    short = {"L3 agent": "l3", "DHCP agent": "dhcp", "Metadata agent": "md"}[kind]
    return {"id": "%s-%s" % (short, host), "agent_type": kind, "host": host, "alive": alive,
            "admin_state_up": True, "started_at": STARTED,
            "heartbeat_timestamp": "2026-11-23 10:00:00", "routers": list(routers),
            "networks": list(networks)}


def fleet(hosts=("net1", "net2")):
    return [agent(kind, host, routers=["r1"] if kind == "L3 agent" else [],
                  networks=["n1", "n2"] if kind == "DHCP agent" else [])
            for host in hosts for kind in ("L3 agent", "DHCP agent", "Metadata agent")]


def neutron_answers(agents=None):
    answers = green_answers()
    for n in CTL:
        answers["haproxy"][n]["neutron"] = {s: "UP" for s in CTL}
    answers["neutron"] = {n: neutron_ok(n) for n in CTL}
    answers["neutron_agents"] = {"ok": True, "error": None,
                                 "agents": fleet() if agents is None else agents}
    answers["neutron_agents_node"] = "ctl1"
    return answers


def find(agents, kind, host):
    return next(a for a in agents if a["agent_type"] == kind and a["host"] == host)


def neutron_dead_l3(a):
    find(a["neutron_agents"]["agents"], "L3 agent", "net1")["alive"] = False


def neutron_no_dhcp(a):
    a["neutron_agents"]["agents"].remove(find(a["neutron_agents"]["agents"], "DHCP agent",
                                              "net2"))


def neutron_503(a):
    a["neutron"]["ctl2"].update(ok=False, status=503)


def neutron_missing(a):
    a["neutron"]["ctl3"] = "'ha_neutron.health' is not available."


def neutron_agents_failed(a):
    a["neutron_agents"] = {"ok": False, "error": "401 Unauthorized", "agents": []}


def neutron_agents_unchecked(a):
    a["neutron_agents"], a["neutron_agents_node"] = None, None


def neutron_agents_not_run(a):
    a["neutron_agents"] = "'ha_neutron.agents' is not available."


NEUTRON_CASES = [
    ("agent-dead", neutron_dead_l3,
     "neutron L3 agent on net1 is dead (last started 2026-11-23 09:00:00)", "NO"),
    ("kind-missing", neutron_no_dhcp, "neutron: no DHCP agent is registered on net2",
     "agents: 5 registered, checked on ctl1"),
    ("server-unhealthy", neutron_503,
     "neutron on ctl2 is unhealthy: HTTP 503 from http://198.18.10.12:9696/", "FAIL"),
    ("server-module-missing", neutron_missing,
     "neutron on ctl3 did not report its health ('ha_neutron.health' is not available.)",
     "not available"),
    ("agents-check-failed", neutron_agents_failed, "neutron agent list failed: 401 "
     "Unauthorized", "agents: UNKNOWN: 401 Unauthorized"),
    ("agents-not-checked", neutron_agents_unchecked,
     "neutron agents were not checked: no Neutron server node answered",
     "agents: UNKNOWN: not checked"),
    ("agents-check-not-run", neutron_agents_not_run,
     "neutron agent list did not run ('ha_neutron.agents' is not available.)",
     "agents: UNKNOWN: 'ha_neutron.agents'"),
]


def test_neutron_green(plane):
    report = status.summarize(plane, neutron_answers())
    assert report["green"] is True and report["problems"] == [], report["problems"]
    sec = report["neutron"]
    assert sec["ok"] is True and sec["agents_checked_on"] == "ctl1"
    assert sec["agents_error"] is None
    assert set(sec["nodes"]) == set(CTL) and sec["nodes"]["ctl2"]["status"] == 200
    assert [(a["host"], a["type"]) for a in sec["agents"]] == [
        (h, k) for h in ("net1", "net2") for k in ("L3 agent", "DHCP agent", "Metadata agent")]
    assert sec["agents"][0] == {"host": "net1", "type": "L3 agent", "alive": True,
                                "since": STARTED, "routers": ["r1"], "networks": []}
    json.dumps(report)
    text = status.render(report)
    assert "Neutron: ok" in text
    block = text.split("Neutron: ok\n")[1].split("\n\n")[0].splitlines()
    assert block[0].split() == ["node", "health", "http", "seconds", "url", "error"]
    assert block[1].split() == ["ctl1", "ok", "200", "0.021", "http://198.18.10.11:9696/"]
    assert block[4].split() == ["agent", "host", "type", "alive", "since", "routers",
                                "networks"]
    assert block[6].split() == ["net1", "DHCP", "agent", "yes", "2026-11-23", "09:00:00",
                                "0", "2"]
    assert block[-1] == "  agents: 6 registered, checked on ctl1"


@pytest.mark.parametrize("case, breaks, problem, shown", NEUTRON_CASES,
                         ids=[c[0] for c in NEUTRON_CASES])
def test_neutron_one_fault(plane, case, breaks, problem, shown):
    answers = neutron_answers()
    breaks(answers)
    report = status.summarize(plane, answers)
    assert report["green"] is False
    assert {s for s in status.SECTIONS if s in report and not report[s]["ok"]} == {"neutron"}
    assert [p for p in report["problems"] if p.startswith("neutron")] == [problem]
    text = status.render(report)
    assert "Neutron: PROBLEM" in text
    assert problem in text and shown in text


def test_neutron_server_down_is_named_once(plane):
    answers = neutron_answers()
    node_down(answers, "ctl3")
    answers["neutron"].pop("ctl3")
    for n in ("ctl1", "ctl2"):
        answers["haproxy"][n]["neutron"]["ctl3"] = "DOWN"
    report = status.summarize(plane, answers)
    assert report["neutron"]["ok"] is False
    assert report["neutron"]["nodes"]["ctl3"]["error"] == "node down"
    assert not any(p.startswith("neutron") for p in report["problems"])
    assert "haproxy: neutron backend ctl3 is DOWN on ctl1, ctl2" in report["problems"]
    assert "ctl3  ?       -" in status.render(report)


def test_neutron_agent_node_down_leaves_dead_agents(plane):
    answers = neutron_answers()
    node_down(answers, "net2")
    for a in answers["neutron_agents"]["agents"]:
        if a["host"] == "net2":
            a["alive"] = False
    report = status.summarize(plane, answers)
    assert report["neutron"]["ok"] is False
    assert [p for p in report["problems"] if p.startswith("neutron")] == [
        "neutron %s on net2 is dead (last started %s)" % (k, STARTED)
        for k in ("L3 agent", "DHCP agent", "Metadata agent")]


def test_neutron_agent_host_may_be_the_fqdn(plane):
    agents = fleet()
    for a in agents:
        a["host"] += ".lab.example"
    report = status.summarize(plane, neutron_answers(agents))
    assert report["neutron"]["ok"] is True, report["problems"]


def test_neutron_active_passive_needs_one_live_agent_of_each_kind(plane):
    plane["services"]["neutron"]["agents"]["mode"] = "active_passive"
    # One node runs the group: green, the other node having no agent at all.
    report = status.summarize(plane, neutron_answers(fleet(["net2"])))
    assert report["green"] is True, report["problems"]
    # Both run an L3 agent at once.
    report = status.summarize(plane, neutron_answers(fleet(["net2"]) + [agent("L3 agent",
                                                                            "net1")]))
    assert report["neutron"]["ok"] is False
    assert report["problems"] == ["neutron: 2 live L3 agents at once (net2, net1); "
                                  "active_passive runs one"]
    # The only DHCP agent is dead; a disabled metadata agent is not a live one.
    agents = fleet(["net2"])
    find(agents, "DHCP agent", "net2")["alive"] = False
    find(agents, "Metadata agent", "net2")["admin_state_up"] = False
    report = status.summarize(plane, neutron_answers(agents))
    assert report["problems"] == [
        "neutron DHCP agent on net2 is dead (last started %s)" % STARTED,
        "neutron: no live DHCP agent on any agent node (net1, net2); active_passive needs one",
        "neutron: no live Metadata agent on any agent node (net1, net2); active_passive "
        "needs one"]
    assert "Metadata agent" not in report["problems"][0]


def test_neutron_active_active_needs_every_kind_on_every_agent_node(plane):
    report = status.summarize(plane, neutron_answers(fleet(["net2"])))
    assert report["neutron"]["ok"] is False
    assert report["problems"] == ["neutron: no %s is registered on net1" % k
                                  for k in ("L3 agent", "DHCP agent", "Metadata agent")]


def test_neutron_plan_and_answer_node(plane):
    assert ("neutron", "ha_neutron.health", CTL) in status.plan(plane)
    assert [s for s, _, _ in status.plan(plane)][-1] == "neutron"
    answers = {"ping": {"ctl1": False, "ctl2": True, "ctl3": True},
               "neutron": {"ctl2": "'ha_neutron.health' is not available.",
                           "ctl3": neutron_ok("ctl3")},
               "keystone": {"ctl2": keystone_ok("ctl2")}}
    assert status.answer_node(plane, answers, "neutron") == "ctl3"
    assert status.answer_node(plane, answers, "keystone") == "ctl2"
    assert status.catalog_node(plane, answers) == "ctl2"
    assert status.answer_node(plane, {"ping": {"net1": True}}, "neutron") is None


def test_runner_asks_the_agents_of_one_neutron_server(plane, monkeypatch):
    answers = neutron_answers()
    node_down(answers, "ctl1")
    answers["neutron"].pop("ctl1")
    answers["neutron"]["ctl2"] = None
    client = FakeClient(answers)
    report = runner_with(plane, monkeypatch, client, output="json").status()
    assert client.asked("ha_neutron.health") == ["ctl2", "ctl3"]
    assert client.asked("ha_neutron.agents") == ["ctl2", "ctl3"]
    assert client.timeouts["ha_neutron.agents"] == 20
    assert report["neutron"]["agents_checked_on"] == "ctl3"
    assert len(report["neutron"]["agents"]) == 6
    assert "neutron on ctl2 did not report its health (None)" in report["problems"]


def test_runner_without_neutron_does_not_ask_for_agents(good, monkeypatch):
    client = FakeClient(green_answers())
    report = runner_with(good, monkeypatch, client, output="json").status()
    assert report["green"] is True and "neutron" not in report
    assert not any(fun.startswith("ha_neutron") for fun, _ in client.calls)


def test_batches_one_multi_function_call_per_distinct_list(plane):
    layers = [(s, f) for s, f, _ in status.plan(plane)]
    wide = [("catalog", "ha_keystone.catalog_check"), ("neutron_agents", "ha_neutron.agents")]
    assert status.batches(plane, NODES) == [(["ctl1"], layers + wide),
                                            (["ctl2", "ctl3"], layers)]
    # ctl1 down: the service-wide checks go with ctl2; a node nobody asks anything is left out.
    assert status.batches(plane, ["ctl2", "ctl3", "net1"]) == [(["ctl2"], layers + wide),
                                                               (["ctl3"], layers)]


def test_runner_green_pass_is_the_ping_and_one_call_per_batch(plane, monkeypatch):
    client = FakeClient(neutron_answers())
    report = runner_with(plane, monkeypatch, client, output="json").status()
    assert report["green"] is True, report["problems"]
    assert [nodes for _, nodes in client.multi] == [["ctl1"], ["ctl2", "ctl3"]]
    assert [f for f, _ in client.calls].count("ha_keystone.catalog_check") == 1
    assert report["neutron"]["agents_checked_on"] == "ctl1"
