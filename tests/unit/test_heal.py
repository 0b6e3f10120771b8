"""Auto-healing rules: what counts as a problem, what the master does about each kind, the
safety rules (Galera never bootstrapped by restart, Pacemaker's resources left alone) and
damping, with the runner's audit trail."""

import json
import time

import pytest

from hastack import heal, topology
from test_salt_adapters import load

SYNCED = {"primary": True, "synced": True, "ready": True}
ALL = ["ctl1", "ctl2", "ctl3", "net1", "net2"]


def test_units_a_controller_and_a_network_node_keep_running(good):
    assert heal.units_for(good, "ctl2") == ["haproxy", "keepalived", "hastack-galera-health",
                                            "keystone", "rabbitmq-server"]
    assert heal.units_for(good, "net1") == []


def test_pacemaker_units_are_left_alone(good):
    good["cluster"] = {"manager": "pacemaker",
                       "resources": {"api": {"systemd": "keystone"},
                                     "ip": {"vip": "198.18.10.110"}}}
    assert "keystone" not in heal.units_for(good, "ctl1")
    event = {"kind": "service", "node": "ctl1", "unit": "keystone"}
    assert heal.plan(good, event, {})["reason"] == "keystone is Pacemaker's"
    good["cluster"]["manager"] = "hastack"       # Pacemaker runs, but hastack manages
    assert "keystone" in heal.units_for(good, "ctl1")


@pytest.mark.parametrize("active, problem", [
    ("active", None),
    ("failed", "failed"),
    ("inactive", "inactive"),
    ("activating", None),          # a slow start or an auto-restart: systemd's business
    ("deactivating", None),
])
def test_unit_problem_leaves_systemd_its_starts_and_restarts(active, problem):
    assert heal.unit_problem(active) == problem


@pytest.mark.parametrize("status, unit, secs, problem", [
    (SYNCED, "active", 0, None),
    (None, "inactive", 0, "down"),
    (None, "activating", 3, None),                      # starting, give it the grace
    ({"primary": False, "synced": False}, "activating", 30, "non-primary"),
    ({"primary": True, "synced": False}, "active", 3, None),     # joining
    ({"primary": True, "synced": False}, "active", 30, "not-synced"),
])
def test_galera_problem(status, unit, secs, problem):
    assert heal.galera_problem(status, unit, secs, grace=10) == problem


def test_a_stopped_service_is_restarted(good):
    event = {"kind": "service", "node": "ctl2", "unit": "keystone"}
    view = {"answering": ALL}
    assert heal.plan(good, event, view) == {"action": "restart", "node": "ctl2",
                                            "unit": "keystone"}
    assert heal.plan(good, dict(event, unit="sshd"), view)["action"] == "none"


def test_nothing_is_restarted_on_a_node_that_does_not_answer(good):
    event = {"kind": "backend", "node": "ctl1", "service": "keystone", "server": "ctl3"}
    view = {"answering": ["ctl1", "ctl2"], "units": {}}
    assert heal.plan(good, event, view)["action"] == "none"


def test_a_down_backend_restarts_the_unit_on_its_node(good):
    event = {"kind": "backend", "node": "ctl1", "service": "keystone", "server": "ctl3"}
    view = {"answering": ALL}
    assert heal.plan(good, event, view) == {"action": "restart", "node": "ctl3",
                                            "unit": "keystone"}
    assert heal.resource_of(event) == "service:ctl3:keystone"


def test_galera_member_out_is_joined_while_a_primary_exists(good):
    view = {"answering": ALL, "galera": {"ctl1": SYNCED, "ctl2": SYNCED, "ctl3": None}}
    assert heal.plan(good, {"kind": "galera", "node": "ctl3"}, view) == {
        "action": "galera_join", "nodes": ["ctl3"], "restart": []}


def test_a_galera_member_left_disconnected_while_joining_is_restarted(good):
    """CI: ctl2, evicted while it joined after a full outage, ran Disconnected for good;
    starting a running unit does nothing, so it is restarted."""
    disconnected = dict(SYNCED, primary=False, synced=False, ready=False,
                        cluster_status="Disconnected")
    non_primary = dict(disconnected, cluster_status="non-Primary")
    view = {"answering": ALL, "galera": {"ctl1": SYNCED, "ctl2": disconnected,
                                         "ctl3": non_primary}}
    assert heal.plan(good, {"kind": "galera", "node": "ctl2"}, view) == {
        "action": "galera_join", "nodes": ["ctl2", "ctl3"], "restart": ["ctl2"]}


def test_a_galera_backend_down_is_galera_s_business(good):
    event = {"kind": "backend", "node": "ctl1", "service": "galera", "server": "ctl3"}
    assert heal.resource_of(event) == "galera"
    view = {"answering": ALL, "galera": {"ctl1": SYNCED, "ctl2": SYNCED, "ctl3": None}}
    assert heal.plan(good, event, view) == {"action": "galera_join", "nodes": ["ctl3"], "restart": []}


def test_galera_without_primary_is_recovered_never_restarted(good):
    view = {"answering": ALL, "galera": {"ctl1": None, "ctl2": None,
                                         "ctl3": {"primary": False, "synced": False}}}
    assert heal.plan(good, {"kind": "galera", "node": "ctl3"}, view)["action"] == \
        "galera_recover"


def test_galera_recovery_waits_for_every_member_to_report(good):
    view = {"answering": ["ctl1", "ctl2"], "galera": {"ctl1": None, "ctl2": None,
                                                      "ctl3": None}}
    action = heal.plan(good, {"kind": "galera", "node": "ctl1"}, view)
    assert action == {"action": "none", "wait_for": ["ctl3"],
                      "reason": "no Primary component; waiting on ctl3 to report"}
    # As the runner sees it: the grain comes with the answer, so a silent member is not
    # in rolled_out either; it is waited on, not called "not rolled out".
    view["rolled_out"] = ["ctl1", "ctl2"]
    action = heal.plan(good, {"kind": "galera", "node": "ctl1"}, view)
    assert action == {"action": "none", "wait_for": ["ctl3"],
                      "reason": "no Primary component; waiting on ctl3 to report"}


def test_a_node_being_rolled_out_is_left_to_the_rollout(good):
    """A controller just added to the pillar: its backends are DOWN on the other load
    balancers and its MariaDB is not started until orch.deploy gets there."""
    rolled_out = ["ctl1", "ctl2"]
    event = {"kind": "backend", "node": "ctl1", "service": "keystone", "server": "ctl3"}
    action = heal.plan(good, event, {"answering": ALL, "rolled_out": rolled_out})
    assert action["action"] == "none" and "ctl3: not rolled out yet" in action["reason"]
    galera = {"answering": ALL, "rolled_out": rolled_out,
              "galera": {"ctl1": SYNCED, "ctl2": SYNCED, "ctl3": None}}
    action = heal.plan(good, {"kind": "galera", "node": "ctl3"}, galera)
    assert action["action"] == "none" and "ctl3: not rolled out yet" in action["reason"]
    # Not even a full-outage recovery: the rollout's own galera_recover step does it.
    galera["galera"] = {"ctl1": None, "ctl2": None, "ctl3": None}
    assert heal.plan(good, {"kind": "galera", "node": "ctl1"}, galera)["action"] == "none"
    # Once the rollout's last step marks it, it is healed like any other.
    galera = dict(galera, rolled_out=ALL, galera={"ctl1": SYNCED, "ctl2": SYNCED, "ctl3": None})
    assert heal.plan(good, {"kind": "galera", "node": "ctl3"}, galera) == {
        "action": "galera_join", "nodes": ["ctl3"], "restart": []}


def test_a_healthy_galera_needs_nothing(good):
    view = {"answering": ALL, "galera": {"ctl1": SYNCED, "ctl2": SYNCED, "ctl3": SYNCED}}
    assert heal.plan(good, {"kind": "galera", "node": "ctl1"}, view)["action"] == "none"


def vip_view(status, holders):
    return {"answering": ALL, "vips": {"api": {"status": status, "holders": holders}}}


def test_vip_held_twice_keeps_the_preferred_holder(good):
    action = heal.plan(good, {"kind": "vip", "vip": "api"},
                       vip_view("split-brain", ["ctl3", "ctl1"]))
    assert action["action"] == "restart_keepalived" and action["nodes"] == ["ctl3"]


def test_vip_held_nowhere_restarts_the_preferred_keepalived(good):
    action = heal.plan(good, {"kind": "vip", "vip": "api"}, vip_view("missing", []))
    assert action["action"] == "restart_keepalived" and action["nodes"] == ["ctl1"]
    assert heal.plan(good, {"kind": "vip", "vip": "api"},
                     vip_view("ok", ["ctl1"]))["action"] == "none"


def test_rabbitmq_partition_restarts_the_minority(good):
    view = {"rabbitmq": {
        "ctl1": {"running": ["ctl1", "ctl2"], "partitions": {"ctl1": ["ctl3"]}, "alarms": []},
        "ctl2": {"running": ["ctl1", "ctl2"], "partitions": {}, "alarms": []},
        "ctl3": {"running": ["ctl3"], "partitions": {"ctl3": ["ctl1", "ctl2"]},
                 "alarms": []}}}
    action = heal.plan(good, {"kind": "rabbitmq", "node": "ctl3"}, view)
    assert action["action"] == "restart" and action["nodes"] == ["ctl3"]
    assert action["unit"] == "rabbitmq-server"


def test_rabbitmq_alarm_is_reported_not_restarted(good):
    view = {"rabbitmq": {"ctl1": {"running": ["ctl1", "ctl2", "ctl3"], "partitions": {},
                                  "alarms": ["memory"]}}}
    assert heal.plan(good, {"kind": "rabbitmq", "node": "ctl1"}, view)["action"] == "alert"


def test_damping_backs_off_then_gives_up():
    policy = {"max_attempts": 3, "window": 300, "backoff": [0, 5, 20]}
    assert heal.damp([], 1000, policy) == ("go", None)
    assert heal.damp([1000], 1002, policy) == ("wait", 3)
    assert heal.damp([1000], 1006, policy) == ("go", None)
    assert heal.damp([1000, 1006], 1010, policy) == ("wait", 16)
    assert heal.damp([1000, 1006, 1030], 1040, policy)[0] == "give_up"
    # Attempts older than the window no longer count.
    assert heal.damp([1000, 1006, 1030], 1400, policy) == ("go", None)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(healing={"max_attempts": 0}),
     "hastack:healing:max_attempts: 0 is not a positive number"),
    (lambda t: t.update(healing={"backoff": []}),
     "hastack:healing:backoff: must be a non-empty list of seconds"),
    (lambda t: t["services"]["keystone"].update(unit="bad unit"),
     "hastack:services:keystone:unit: 'bad unit' is not a systemd unit name"),
])
def test_validation_names_the_field(good, change, message):
    change(good)
    assert message in topology.validate(good)


class FakeClient:
    """LocalClient stand-in: answers from a table, records every call."""

    def __init__(self, answers):
        self.answers, self.calls, self.kwargs = answers, [], []

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False

    def cmd(self, nodes, fun, arg=(), tgt_type="list", timeout=None, **kw):
        self.calls.append((fun, tuple(nodes), tuple(arg)))
        self.kwargs.append((fun, kw.get("kwarg")))
        answers = {n: self.answers[fun](n) for n in nodes}     # each node asked once
        return {n: a for n, a in answers.items() if a is not None}


def heal_runner(good, tmp_path, client, monkeypatch):
    runner = load("_runners", "hastack", __opts__={"id": "master", "cachedir": str(tmp_path),
                                                   "conf_file": "x", "sock_dir": str(tmp_path)},
                  __context__={})
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": good})
    monkeypatch.setattr(runner.salt.client, "get_local_client", lambda conf: client)
    runner.fired = []
    monkeypatch.setattr(runner, "_fire", lambda data, tag: runner.fired.append(tag))
    return runner


def test_runner_restarts_then_damps_and_alerts_once(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "inactive", "restarted": True, "active": False, "comment": "still down"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: clock[0])
    event = {"kind": "service", "id": "ctl2", "unit": "keystone"}
    results = []
    for step in (0, 6, 27, 40, 50):
        clock[0] = 1000.0 + step
        results.append(runner.heal(data=event)["result"])
    assert results == ["failed", "failed", "failed", "gave-up", "damped"]
    assert runner.fired == ["hastack/heal/service/failed"] * 3 + [
        "hastack/heal/alert", "hastack/heal/service/damped"]
    restarts = [c for c in client.calls if c[0] == "ha_heal.ensure_running"]
    assert restarts == [("ha_heal.ensure_running", ("ctl2",), ("keystone",))] * 3
    log = runner.heal_log(resource="service:ctl2:keystone")
    assert [r["result"] for r in log] == results
    assert log[0]["seen"]["unit"] == "keystone" and log[0]["done"] == "ctl2: still down"
    assert json.loads((tmp_path / "hastack" / "heal.log").read_text().splitlines()[0])


def test_runner_does_nothing_when_it_is_fixed_already(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "active", "restarted": False, "active": True, "comment": "already active"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    event = {"kind": "service", "id": "ctl2", "unit": "keystone"}
    for _ in range(5):                       # never counted as attempts: never damped
        assert runner.heal(data=event)["result"] == "nothing-to-do"


def test_runner_records_a_heal_that_worked(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "failed", "restarted": True, "active": True, "comment": "restarted: active"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    ret = runner.heal(data={"kind": "service", "id": "ctl2", "unit": "keystone"})
    assert ret["result"] == "healed" and ret["attempt"] == 1


def test_heal_reset_lets_healing_resume(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "failed", "restarted": True, "active": False, "comment": "still down"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: clock[0])
    event = {"kind": "service", "id": "ctl2", "unit": "keystone"}
    for step in (0, 6, 27, 40):
        clock[0] = 1000.0 + step
        runner.heal(data=event)
    assert runner.heal_reset(resource="service:ctl2:keystone")["cleared"] == [
        "service:ctl2:keystone"]
    clock[0] = 1041.0
    assert runner.heal(data=event)["result"] == "failed"      # tried again, not damped


def test_paused_healing_only_logs(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "failed", "restarted": True, "active": True, "comment": "restarted"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    runner.heal_pause(reason="kernel upgrade")
    event = {"kind": "service", "id": "ctl2", "unit": "keystone"}
    ret = runner.heal(data=event)
    assert ret["result"] == "paused" and "kernel upgrade" in ret["reason"]
    assert client.calls == []
    runner.heal_resume()
    assert runner.heal(data=event)["result"] == "healed"


def test_a_pause_ends_by_itself(good, tmp_path, monkeypatch):
    runner = heal_runner(good, tmp_path, FakeClient({}), monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: clock[0])
    runner.heal_pause(minutes=1)
    assert runner._heal_paused().startswith("healing paused until")
    clock[0] += 61
    assert runner._heal_paused() is None


def test_beacon_reports_changes_and_asks_each_source_once_per_run(good, monkeypatch):
    calls = []

    def answer(name, value):
        def fun(*a):
            calls.append(name)
            return value() if callable(value) else value
        return fun

    held = [{"api": {}, "db": {}}]
    beacon = load("_beacons", "ha_health", __grains__={"id": "ctl1"}, __salt__={
        "ha_topology.get": lambda: good,
        "ha_vip.held": answer("held", lambda: held[0]),
        "ha_haproxy.backends": answer("backends", {"keystone": {"ctl3": "DOWN",
                                                               "ctl2": "UP"}}),
        "ha_rabbitmq.status": answer("rabbit", {"partitions": {}, "alarms": []})})
    monkeypatch.setattr(beacon, "_unit_states",
                        lambda units: {u: "inactive" if u == "keystone" else "active"
                                       for u in units})
    monkeypatch.setattr(beacon.galera_health, "local_status", lambda: dict(SYNCED))
    first = beacon._check()
    assert sorted((e["tag"], e.get("unit") or e.get("server")) for e in first) == [
        ("backend", "ctl3"), ("service", "keystone")]
    assert calls.count("held") == 1 and calls.count("backends") == 1
    # A second run a moment later: the same problems are not fired again (refire later),
    # and a VIP this node lost is.
    held[0] = {"db": {}}
    second = beacon._check()
    assert [(e["tag"], e["vip"], e["held"]) for e in second] == [("vip", "api", False)]


def test_a_slow_question_never_delays_what_the_node_sees_itself(good, monkeypatch):
    """rabbitmqctl and Neutron's API answer in seconds under load: a check does not wait for
    them, and uses an answer once it came."""
    import threading

    release, asked = threading.Event(), []

    def rabbit_status():
        asked.append(1)
        release.wait(10)
        return {"partitions": {"ctl1": ["ctl3"]}, "alarms": []}
    beacon = load("_beacons", "ha_health", __grains__={"id": "ctl1"}, __salt__={
        "ha_topology.get": lambda: good, "ha_vip.held": lambda: {"db": {}},
        "ha_haproxy.backends": lambda: {"galera": {"ctl1": "DOWN", "ctl2": "UP"}},
        "ha_rabbitmq.status": rabbit_status})
    monkeypatch.setattr(beacon, "_unit_states", lambda units: {u: "active" for u in units})
    monkeypatch.setattr(beacon.galera_health, "local_status", lambda: dict(SYNCED))
    started = time.monotonic()
    first = beacon._check()
    assert time.monotonic() - started < 1
    assert [(e["tag"], e.get("server")) for e in first] == [("backend", "ctl1")]
    assert beacon._check() == [] and len(asked) == 1      # not asked again while it runs
    release.set()
    for _ in range(100):
        events = beacon._check()
        if events:
            break
        time.sleep(0.02)
    assert [(e["tag"], e["partitions"]) for e in events] == [("rabbitmq", {"ctl1": ["ctl3"]})]
    assert len(asked) == 1           # the next question only after rabbitmq_every seconds


def test_a_slow_check_never_holds_the_minion_and_is_not_queued_twice(good, monkeypatch):
    """The beacon runs on the minion's event loop, which also receives its jobs: a check
    slower than the beacon's wait is collected by a later call, and no second check is
    started while one runs."""
    import threading
    import time as _time

    beacon = load("_beacons", "ha_health", __grains__={"id": "ctl1"}, __salt__={})
    release, started = threading.Event(), []

    def slow_check():
        started.append(1)
        release.wait(10)
        return [{"tag": "service", "unit": "rabbitmq-server"}]

    monkeypatch.setattr(beacon, "_check", slow_check)
    monkeypatch.setattr(beacon, "WAIT", 0.05)
    t0 = _time.monotonic()
    assert beacon.beacon([]) == [] and beacon.beacon([]) == []
    assert _time.monotonic() - t0 < 1.0
    assert len(started) == 1
    release.set()
    for _ in range(100):
        events = beacon.beacon([])
        if events:
            break
    assert events == [{"tag": "service", "unit": "rabbitmq-server"}]
    assert len(started) == 1
    # The next call starts a fresh check.
    beacon.beacon([])
    assert len(started) == 2


def test_an_event_for_a_resource_being_healed_does_not_queue(good, tmp_path, monkeypatch):
    """The CI run where a full Galera outage fired an event a second from five beacons: each
    waited for the heal lock in a reactor thread. A second event for the resource in flight
    is logged as busy at once; another resource still gets its heal."""
    runner = None

    def restart(node):
        # While ctl2's keystone is being restarted, the same trouble is reported again.
        if not inner:
            inner.append(runner.heal(data={"kind": "service", "id": "ctl2",
                                           "unit": "keystone"}))
        return {"was": "failed", "restarted": True, "active": True, "comment": "active"}

    inner = []
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": restart})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    monkeypatch.setattr(runner, "HEAL_LOCK_WAIT", 0.5)
    ret = runner.heal(data={"kind": "service", "id": "ctl2", "unit": "keystone"})
    assert ret["result"] == "healed"
    assert [r["result"] for r in inner] == ["busy"]
    assert inner[0]["reason"] == "a heal of service:ctl2:keystone is in progress"
    restarts = [c for c in client.calls if c[0] == "ha_heal.ensure_running"]
    assert len(restarts) == 1


def test_heal_reset_does_not_wait_for_a_heal_in_progress(good, tmp_path, monkeypatch):
    """CI: `salt-run hastack.heal_reset` timed out after 300 s behind a Galera recovery."""
    client = FakeClient({"grains.get": lambda n: True, "ha_heal.ensure_running": lambda n: {
        "was": "failed", "restarted": True, "active": False, "comment": "still down"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    runner.heal(data={"kind": "service", "id": "ctl2", "unit": "keystone"})
    with runner._heal_lock(wait=0.1):          # an action in progress
        started = time.monotonic()
        assert runner.heal_reset()["cleared"] == ["service:ctl2:keystone"]
        assert time.monotonic() - started < 1


def test_recovery_starts_a_joiner_again_when_it_is_left_disconnected(good, tmp_path,
                                                                      monkeypatch):
    """The CI run: after the full outage ctl2 was evicted while it joined and the recovery
    waited 600 s for it, holding the Galera heal."""
    joined = []
    disconnected = {"primary": False, "synced": False, "ready": False,
                    "cluster_status": "Disconnected"}
    client = FakeClient({
        "ha_galera.status": lambda n: dict(SYNCED, cluster_status="Primary",
                                           cluster_size=3) if joined else disconnected,
        "ha_galera.join": lambda n: joined.append(n) or {"result": True, "comment": ""}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    said = []
    cluster = runner._Galera(client, ["ctl1", "ctl2", "ctl3"], said.append)
    status = cluster.wait_synced("ctl2", timeout=60, rejoin=["ctl1,"])
    assert status["cluster_size"] == 3 and joined == ["ctl2"]
    assert said == ["ctl2: Disconnected outside the Primary component while joining: "
                    "starting it again"]
    assert ("ha_galera.join", ("ctl2",), ("ctl1,",)) in client.calls


def test_recovery_stops_the_members_outside_a_primary_and_reads_them_in_one_call(
        good, tmp_path, monkeypatch):
    """Every member killed at once and restarted by systemd: each waits for a Primary
    component, and reports its position only once stopped."""
    uuid = "2dbf1857-f2a2-11f1-a878-1390e1f5cbde"
    seqnos = {"ctl1": 70, "ctl2": 71, "ctl3": 70}
    up = set()

    def report(node):
        if client.kwargs[-1][1]:       # asked to stop it first
            return {"running": False, "stopped": True, "has_grastate": True, "uuid": uuid,
                    "seqno": seqnos[node]}
        return {"running": True, "has_grastate": True, "uuid": uuid, "seqno": -1}

    def started(node):
        up.add(node)
        return {"result": True, "comment": ""}
    client = FakeClient({
        "ha_galera.report": report,
        "ha_galera.write_grastate": lambda n: {"result": True},
        "ha_galera.bootstrap": started, "ha_galera.join": started,
        "ha_galera.status": lambda n: dict(SYNCED, cluster_size=len(up)) if n in up else None})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    ret = runner.galera_recover()
    assert ret["result"] is True, ret["steps"]
    reports = [kw for fun, kw in client.kwargs if fun == "ha_galera.report"]
    assert reports == [{}, {"stop_outside_primary": True, "kill_after": 1}]
    assert not [c for c in client.calls if c[0] == "ha_galera.stop"]
    assert ret["decision"]["node"] == "ctl2"           # the highest seqno, read once stopped
    assert ret["acted"] == ["stopped ctl1", "stopped ctl2", "stopped ctl3",
                            "bootstrapped ctl2", "joined ctl1", "joined ctl3"]


def test_recovery_gives_up_on_a_joiner_that_never_stays(good, tmp_path, monkeypatch):
    disconnected = {"primary": False, "synced": False, "ready": False,
                    "cluster_status": "Disconnected"}
    client = FakeClient({"ha_galera.status": lambda n: disconnected,
                         "ha_galera.join": lambda n: {"result": True, "comment": ""}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    monkeypatch.setattr(runner.time, "sleep", lambda s: None)
    cluster = runner._Galera(client, ["ctl1", "ctl2", "ctl3"], lambda msg: None)
    with pytest.raises(RuntimeError, match="node ctl2 is not Synced"):
        cluster.wait_synced("ctl2", timeout=60, rejoin=[], rejoins=2)
    assert len([c for c in client.calls if c[0] == "ha_galera.join"]) == 2


@pytest.fixture
def with_neutron(good):
    good["services"]["neutron"] = {"nodes": ["ctl1", "ctl2", "ctl3"], "port": 9696,
                                   "vip": "api2", "check": {"path": "/", "expect": 200}}
    return good


def test_neutron_units_are_kept_running_on_controllers_and_network_nodes(with_neutron):
    assert heal.units_for(with_neutron, "ctl1") == [
        "haproxy", "keepalived", "hastack-galera-health", "keystone", "neutron-api",
        "neutron-rpc-server", "neutron-periodic-workers", "rabbitmq-server"]
    assert heal.units_for(with_neutron, "net1") == [
        "neutron-l3-agent", "neutron-dhcp-agent", "neutron-metadata-agent"]


def test_dead_agents_on_a_node_that_answers_are_restarted_there(with_neutron):
    event = {"kind": "neutron", "node": "ctl2", "host": "net1",
             "dead": ["DHCP agent", "L3 agent"]}
    assert heal.resource_of(event) == "neutron:net1"
    action = heal.plan(with_neutron, event, {"answering": ["net1"], "rolled_out": ["net1"]})
    assert action["action"] == "restart_neutron_agents" and action["node"] == "net1"
    assert action["units"] == ["neutron-dhcp-agent", "neutron-l3-agent"]
    pending = heal.plan(with_neutron, event, {"answering": ["net1"], "rolled_out": []})
    assert pending["action"] == "none" and "not rolled out" in pending["reason"]


def test_a_lost_network_node_has_its_routers_and_networks_moved(with_neutron):
    event = {"kind": "neutron", "node": "ctl2", "host": "net1",
             "dead": ["DHCP agent", "L3 agent", "Metadata agent"]}
    action = heal.plan(with_neutron, event, {"answering": [], "rolled_out": []})
    assert action == {"action": "neutron_reschedule", "host": "net1", "via": "ctl2",
                      "reason": "net1 does not answer and its agents are dead "
                                "(DHCP agent, L3 agent, Metadata agent)"}


def test_every_agent_dead_at_once_is_the_server_side_not_the_agents(with_neutron):
    """After a controllers' outage the API calls every agent dead until the RPC server and
    the bus are back: restarting the agents would not help, nor moving anything."""
    event = {"kind": "neutron", "node": "ctl2", "host": "net1", "live_elsewhere": False,
             "dead": ["DHCP agent", "L3 agent", "Metadata agent"]}
    for answering in (["net1"], []):
        action = heal.plan(with_neutron, event, {"answering": answering,
                                                 "rolled_out": answering})
        assert action["action"] == "none" and "RPC server or RabbitMQ" in action["reason"]


def test_neutron_agents_on_a_node_it_does_not_manage_are_left_alone(with_neutron):
    event = {"kind": "neutron", "node": "ctl2", "host": "compute7", "dead": ["L3 agent"]}
    assert heal.plan(with_neutron, event, {"answering": []})["action"] == "none"


@pytest.fixture
def passive(with_neutron):
    with_neutron["services"]["neutron"]["agents"] = {"mode": "active_passive", "l3_ha": False}
    return with_neutron


ALL_KINDS = ["DHCP agent", "L3 agent", "Metadata agent"]


def test_passive_group_moves_off_a_silent_node_to_the_next_that_answers(passive):
    """Every agent is dead (the group runs on one node only): that is not the RPC server
    being out, it is the group's node. It starts on net2, which answers."""
    event = {"kind": "neutron", "node": "ctl2", "host": "net1", "dead": ALL_KINDS,
             "live_elsewhere": False, "keeper": None, "live": False}
    action = heal.plan(passive, event, {"answering": ["net2"], "rolled_out": ["net2"]})
    assert {k: action[k] for k in ("action", "from", "to", "start", "stop", "via")} == {
        "action": "neutron_failover", "from": "net1", "to": "net2", "start": True,
        "stop": False, "via": "ctl2"}
    nowhere = heal.plan(passive, event, {"answering": [], "rolled_out": []})
    assert nowhere["action"] == "none" and "nowhere to go" in nowhere["reason"]
    pending = heal.plan(passive, event, {"answering": ["net2"], "rolled_out": []})
    assert pending["action"] == "none"


def test_passive_group_node_that_answers_restarts_its_dead_agents_in_place(passive):
    event = {"kind": "neutron", "node": "ctl2", "host": "net1", "dead": ALL_KINDS,
             "live_elsewhere": False, "keeper": None, "live": False}
    action = heal.plan(passive, event, {"answering": ["net1", "net2"],
                                        "rolled_out": ["net1", "net2"]})
    assert action["action"] == "restart_neutron_agents" and action["node"] == "net1"
    assert action["units"] == ["neutron-dhcp-agent", "neutron-l3-agent",
                               "neutron-metadata-agent"]


def test_passive_second_group_on_a_returning_node_is_stopped_and_handed_over(passive):
    event = {"kind": "neutron", "node": "ctl2", "host": "net1", "dead": [], "live": True,
             "keeper": "net2"}
    action = heal.plan(passive, event, {"answering": ["net1", "net2"],
                                        "rolled_out": ["net1", "net2"]})
    assert {k: action[k] for k in ("action", "from", "to", "start", "stop")} == {
        "action": "neutron_failover", "from": "net1", "to": "net2", "start": False,
        "stop": True}
    # Being rolled out: the deploy's agents state hands it over itself.
    pending = heal.plan(passive, event, {"answering": ["net1", "net2"], "rolled_out": ["net2"]})
    assert pending["action"] == "none" and "not rolled out" in pending["reason"]
    # Cut off from Salt but its agents report: hastack cannot stop them; it says so.
    cut = heal.plan(passive, event, {"answering": ["net2"], "rolled_out": ["net2"]})
    assert cut["action"] == "alert" and "second agent group" in cut["reason"]
    # Only dead records left of a node the group moved from: handed over, nothing to stop.
    old = dict(event, live=False, dead=ALL_KINDS)
    gone = heal.plan(passive, old, {"answering": ["net2"], "rolled_out": ["net2"]})
    assert (gone["action"], gone["stop"], gone["start"]) == ("neutron_failover", False, False)


def test_runner_fails_the_group_over_then_hands_the_resources_over(passive, tmp_path,
                                                                   monkeypatch):
    gone = "Minion did not return. [Not connected]"
    client = FakeClient({
        "grains.get": lambda n: gone if n == "net1" else True,
        "ha_neutron.restart_agents": lambda n: {"result": True, "seconds": 12.0,
                                                "comment": "every agent alive again"},
        "ha_neutron.reschedule": lambda n: {"result": True, "changes": {"moved": ["m"]},
                                            "comment": "add router r1 ...; forget ..."}})
    runner = heal_runner(passive, tmp_path, client, monkeypatch)
    ret = runner.heal(data={"kind": "neutron", "id": "ctl1", "host": "net1", "dead": ALL_KINDS,
                            "live": False, "live_elsewhere": False, "keeper": None})
    assert ret["result"] == "healed", ret
    acts = [c[:2] for c in client.calls if c[0] != "grains.get"]
    assert acts == [("ha_neutron.restart_agents", ("net2",)),
                    ("ha_neutron.reschedule", ("ctl1",))]
    assert ("ha_neutron.reschedule", ("ctl1",), ("net1",)) in client.calls
    assert "net2: agents started" in ret["done"]


def test_a_node_salt_knows_is_gone_is_silent_not_pending(good, tmp_path, monkeypatch):
    """Salt answers for a minion that is not connected with its "did not return" text: the
    node is down, so a Galera member there is waited on, not called "not rolled out"."""
    gone = "Minion did not return. [Not connected]"
    client = FakeClient({"grains.get": lambda n: gone if n == "ctl3" else True,
                         "ha_galera.status": lambda n: {"primary": False, "synced": False}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock = [0.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    ret = runner.heal(data={"kind": "galera", "id": "ctl1", "state": "non-primary"})
    assert ret["result"] == "nothing-to-do", ret
    assert ret["reason"] == "no Primary component; waiting on ctl3 to report"
    status_asked = [c[1] for c in client.calls if c[0] == "ha_galera.status"]
    # Asked again every SILENT_POLL seconds for SILENT_WAIT, then left to the next event.
    assert status_asked == [("ctl1", "ctl2")] * (heal.SILENT_WAIT // heal.SILENT_POLL + 1)


def test_a_recovery_starts_once_the_last_silent_member_answers(good, tmp_path, monkeypatch):
    """After a power loss the minions come up seconds apart: the heal that found one silent
    looks again and recovers once every member reports, not at the next event."""
    looks = [0]

    def ping(n):
        if n == "ctl1":
            looks[0] += 1
        return "Minion did not return. [Not connected]" if n == "ctl3" and looks[0] < 3 \
            else True
    client = FakeClient({"grains.get": ping,
                         "ha_galera.status": lambda n: {"primary": False, "synced": False}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock = [0.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    recovered = []
    monkeypatch.setattr(runner, "galera_recover", lambda: recovered.append(clock[0]) or {
        "result": True, "steps": ["+0.5s decision: bootstrap ctl1",
                                  "+1.0s Primary component of 3 nodes"]})
    ret = runner.heal(data={"kind": "galera", "id": "ctl1", "state": "non-primary"})
    assert ret["result"] == "healed", ret
    assert recovered == [2 * heal.SILENT_POLL]
    assert ret["done"] == "+0.5s decision: bootstrap ctl1; +1.0s Primary component of 3 nodes"


def ctl3_silent_no_primary():
    """No Primary component anywhere and ctl3's minion silent (a Galera heal waits on it);
    a unit restart answers that it started."""
    return FakeClient({
        "grains.get": lambda n: "Minion did not return. [Not connected]" if n == "ctl3"
        else True,
        "ha_galera.status": lambda n: {"primary": False, "synced": False},
        "ha_heal.ensure_running": lambda n: {"was": "failed", "restarted": True,
                                             "active": True, "comment": "started"}})


def test_other_heals_act_while_a_recovery_waits_on_a_silent_member(good, tmp_path,
                                                                    monkeypatch):
    """The wait for a silent member is a look, not an action: it does not hold the heal
    lock, so a unit elsewhere is healed meanwhile instead of queueing for up to 30 s."""
    client = ctl3_silent_no_primary()
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock, during = [0.0], []

    def sleep(seconds):
        clock[0] += seconds
        if not during:
            during.append(None)
            during[0] = runner.heal(data={"kind": "service", "id": "ctl2",
                                          "unit": "keystone"})["result"]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner.time, "sleep", sleep)
    ret = runner.heal(data={"kind": "galera", "id": "ctl1", "state": "non-primary"})
    assert ret["result"] == "nothing-to-do", ret
    assert during == ["healed"]


@pytest.mark.parametrize("answer, result", [
    ({"restarted": ["neutron-l3-agent"], "skipped": [], "failed": []}, "healed"),
    # Started moments ago (the node just booted): its first report is due, not a restart.
    ({"restarted": [], "skipped": ["neutron-l3-agent started 4 s ago"], "failed": []},
     "nothing-to-do"),
    ({"restarted": [], "skipped": [], "failed": ["neutron-l3-agent"]}, "failed"),
])
def test_runner_restarts_dead_neutron_agents_on_their_node(with_neutron, tmp_path, monkeypatch,
                                                           answer, result):
    client = FakeClient({"grains.get": lambda n: True,
                         "ha_neutron.restart_dead": lambda n: answer})
    runner = heal_runner(with_neutron, tmp_path, client, monkeypatch)
    ret = runner.heal(data={"kind": "neutron", "id": "ctl1", "host": "net1",
                            "dead": ["L3 agent"], "live_elsewhere": True})
    assert ret["result"] == result, ret
    assert [c for c in client.calls if c[0] == "ha_neutron.restart_dead"] == [
        ("ha_neutron.restart_dead", ("net1",), (["neutron-l3-agent"],))]


def test_runner_moves_a_lost_network_nodes_routers_through_a_controller(with_neutron, tmp_path,
                                                                       monkeypatch):
    moved = {"result": True, "changes": {"moved": ["add router r1 to ..."]},
             "comment": "add router r1 to ..."}
    client = FakeClient({"grains.get": lambda n: "Minion did not return. [Not connected]",
                         "ha_neutron.reschedule": lambda n: moved})
    runner = heal_runner(with_neutron, tmp_path, client, monkeypatch)
    clock = [1000.0]
    monkeypatch.setattr(runner.time, "time", lambda: clock[0])
    event = {"kind": "neutron", "id": "ctl1", "host": "net1", "dead": ["L3 agent"],
             "live_elsewhere": True}
    ret = runner.heal(data=event)
    assert ret["result"] == "healed" and ret["done"] == "add router r1 to ..."
    assert ("ha_neutron.reschedule", ("ctl1",), ("net1",)) in client.calls
    moved.update(changes={}, comment="net1 hosted nothing")       # already moved: no attempt
    clock[0] += 15                                                # the beacon's refire
    assert runner.heal(data=event)["result"] == "nothing-to-do"


def test_neutron_restart_goes_one_node_at_a_time_dead_first_and_stops_on_failure(
        with_neutron, tmp_path, monkeypatch):
    fleet = [{"id": "%s-%s" % (kind, host), "agent_type": kind, "host": host,
              "alive": not (host == "net2" and kind == "L3 agent")}
             for host in ("net1", "net2") for kind in ("L3 agent", "DHCP agent")]
    answers = {"net1": {"result": True, "seconds": 9.0, "comment": "back after 9.0 s"},
               "net2": {"result": True, "seconds": 8.0, "comment": "back after 8.0 s"}}
    client = FakeClient({"ha_neutron.agents": lambda n: {"ok": True, "agents": fleet},
                         "ha_neutron.restart_agents": lambda n: answers[n]})
    runner = heal_runner(with_neutron, tmp_path, client, monkeypatch)
    ret = runner.neutron_restart()
    assert ret["result"] is True and ret["seconds"] == {"net2": 8.0, "net1": 9.0}
    order = [c[1] for c in client.calls if c[0] == "ha_neutron.restart_agents"]
    assert order == [("net2",), ("net1",)]             # the node with a dead agent first
    answers["net2"] = {"result": False, "seconds": 0, "comment": "refused: ..."}
    client.calls.clear()
    ret = runner.neutron_restart()
    assert ret["result"] is False and ret["retcode"] == 1
    assert [c[1] for c in client.calls if c[0] == "ha_neutron.restart_agents"] == [("net2",)]


def test_neutron_restart_in_active_passive_restarts_only_the_groups_node(passive, tmp_path,
                                                                        monkeypatch):
    fleet = [{"id": "%s-%s" % (kind, host), "agent_type": kind, "host": host, "alive": True,
              "started_at": started}
             for host, started in (("net1", "2026-11-23 09:00:00"),
                                   ("net2", "2026-11-23 09:05:00"))
             for kind in ("L3 agent", "DHCP agent")]
    client = FakeClient({"ha_neutron.agents": lambda n: {"ok": True, "agents": fleet},
                         "ha_neutron.restart_agents": lambda n: {
                             "result": True, "seconds": 7.0, "comment": "back"}})
    runner = heal_runner(passive, tmp_path, client, monkeypatch)
    ret = runner.neutron_restart()
    assert ret["result"] is True and ret["seconds"] == {"net2": 7.0}


def test_runner_counts_a_handover_a_deploy_already_did_as_nothing_to_do(passive, tmp_path,
                                                                        monkeypatch):
    """The deploy's agents state hands net1's group over while the beacon still sees it: the
    heal finds nothing running and nothing to move, which is not an attempt."""
    client = FakeClient({
        "grains.get": lambda n: True,
        "ha_neutron.stop_agents": lambda n: {"result": True, "stopped": [],
                                             "comment": "no agent runs"},
        "ha_neutron.reschedule": lambda n: {"result": True, "changes": {},
                                            "comment": "net1 hosted nothing"}})
    runner = heal_runner(passive, tmp_path, client, monkeypatch)
    ret = runner.heal(data={"kind": "neutron", "id": "ctl1", "host": "net1", "dead": [],
                            "live": True, "live_elsewhere": True, "keeper": "net2"})
    assert ret["result"] == "nothing-to-do", ret
    assert ("ha_neutron.stop_agents", ("net1",), ()) in client.calls


PACEMAKER_AGENTS = {"l3": {"systemd": "neutron-l3-agent"},
                    "dhcp": {"systemd": "neutron-dhcp-agent"},
                    "md": {"systemd": "neutron-metadata-agent"}}


@pytest.fixture
def pacemaker_agents(passive):
    passive["cluster"] = {"manager": "pacemaker", "nodes": ["ctl1", "ctl2", "ctl3", "net1",
                                                           "net2"],
                          "fencing": "disabled-i-accept-split-brain",
                          "resources": dict(PACEMAKER_AGENTS)}
    return passive


def test_pacemaker_may_run_the_agent_group_as_a_whole_in_active_passive(pacemaker_agents):
    assert heal.pacemaker_agents(pacemaker_agents) == list(
        ["neutron-l3-agent", "neutron-dhcp-agent", "neutron-metadata-agent"])
    assert [e for e in topology.validate(pacemaker_agents)
            if "agent" in e or e.startswith("hastack:cluster")] == []
    assert heal.units_for(pacemaker_agents, "net1") == []


@pytest.mark.parametrize("change, message", [
    (lambda t: t["cluster"]["resources"].pop("md"),
     "hastack:cluster:resources: Pacemaker runs neutron-l3-agent, neutron-dhcp-agent but not "
     "neutron-metadata-agent"),
    (lambda t: t["services"]["neutron"]["agents"].update(mode="active_active", l3_ha=True),
     "hastack:cluster:resources: Pacemaker runs the Neutron agents on one node at a time; set "
     "hastack:services:neutron:agents:mode: active_passive"),
    (lambda t: t["cluster"].update(nodes=["ctl1", "ctl2", "ctl3"]),
     "hastack:cluster:nodes: Pacemaker runs the Neutron agents but the agent node(s) net1, "
     "net2 are not cluster members"),
])
def test_pacemaker_agents_are_checked(pacemaker_agents, change, message):
    change(pacemaker_agents)
    assert any(e.startswith(message) for e in topology.validate(pacemaker_agents)), \
        topology.validate(pacemaker_agents)


def test_pacemaker_moves_the_group_and_hastack_only_hands_the_resources_over(
        pacemaker_agents):
    view = {"answering": ["net1", "net2"], "rolled_out": ["net1", "net2"]}
    dead = {"kind": "neutron", "node": "ctl2", "host": "net1", "dead": ALL_KINDS,
            "live": False, "keeper": "net2"}
    action = heal.plan(pacemaker_agents, dead, view)
    assert (action["action"], action["start"], action["stop"]) == (
        "neutron_failover", False, False)
    # Nothing else: no restart of a dead agent, no group started, no group stopped.
    for event in (dict(dead, keeper=None), dict(dead, host="net2", keeper="net2"),
                  dict(dead, live=True, dead=[])):
        assert heal.plan(pacemaker_agents, event, view)["action"] == "none"


def test_neutron_restart_leaves_pacemakers_agents_to_pacemaker(pacemaker_agents, tmp_path,
                                                               monkeypatch):
    client = FakeClient({})
    runner = heal_runner(pacemaker_agents, tmp_path, client, monkeypatch)
    ret = runner.neutron_restart()
    assert ret["result"] is False and "crm_resource --restart" in ret["comment"]
    assert client.calls == []


def test_runner_galera_join_leaves_a_starting_member_to_its_unit(good, tmp_path, monkeypatch):
    """A stopped member is started; one systemd is starting already (a joiner in a state
    transfer) is not restarted: the heal fails for now and is tried again later."""
    client = FakeClient({"ha_heal.ensure_running": lambda n: {
        "was": "activating", "restarted": False, "active": False,
        "comment": "mariadb still starting after 30 s; left to finish"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    ok, what = runner._heal_act(client, good, {"action": "galera_join", "nodes": ["ctl3"],
                                               "restart": []})
    assert ok is False and "left to finish" in what
    assert client.calls == [("ha_heal.ensure_running", ("ctl3",),
                             ("mariadb", "restart_starting=False"))]


@pytest.mark.parametrize("event, waits", [
    ({"kind": "backend", "service": "keystone", "server": "ctl2"}, True),
    ({"kind": "backend", "service": "neutron", "server": "ctl2"}, True),
    ({"kind": "backend", "service": "galera", "server": "ctl2"}, False),
    ({"kind": "service", "node": "ctl2", "unit": "keystone"}, False),
    ({"kind": "vip", "node": "ctl1", "vip": "api"}, False),
])
def test_only_api_backends_wait_for_a_galera_heal(event, waits):
    assert heal.waits_for_galera(event) is waits


def test_api_backends_down_are_deferred_while_galera_is_healed(good, tmp_path, monkeypatch):
    """After a power loss every API backend is DOWN because the database is: those heals
    step aside while Galera's runs instead of holding the heal lock ahead of it; a unit that
    failed is still started, and once Galera's heal ends the backends are healed again."""
    client = ctl3_silent_no_primary()
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    clock, during = [0.0], {}
    backend = {"kind": "backend", "id": "ctl1", "service": "keystone", "server": "ctl2",
               "state": "DOWN"}

    def sleep(seconds):
        clock[0] += seconds
        if not during:
            during["backend"] = runner.heal(data=backend)
            during["unit"] = runner.heal(data={"kind": "service", "id": "ctl2",
                                               "unit": "keystone"})["result"]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner.time, "sleep", sleep)
    runner.heal(data={"kind": "galera", "id": "ctl1", "state": "non-primary"})
    assert during["backend"]["result"] == "deferred"
    assert "galera" in during["backend"]["reason"]
    assert during["unit"] == "healed"
    restarts = [c for c in client.calls if c[0] == "ha_heal.ensure_running"]
    assert restarts == [("ha_heal.ensure_running", ("ctl2",), ("keystone",))]
    # Galera's heal is over: a backend's own heal runs again.
    assert runner.heal(data=dict(backend, server="ctl1"))["result"] == "healed"


def test_a_galera_marker_a_killed_runner_left_is_ignored(good, tmp_path, monkeypatch):
    client = FakeClient({"grains.get": lambda n: True,
                         "ha_heal.ensure_running": lambda n: {
                             "was": "failed", "restarted": True, "active": True,
                             "comment": "started"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    marker = tmp_path / "hastack" / runner.GALERA_IN_FLIGHT
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(str(time.time() - runner.GALERA_IN_FLIGHT_MAX - 1))
    backend = {"kind": "backend", "id": "ctl1", "service": "keystone", "server": "ctl2",
               "state": "DOWN"}
    assert runner.heal(data=backend)["result"] == "healed"
    marker.write_text(str(time.time()))
    assert runner.heal(data=backend)["result"] == "deferred"


def test_a_backend_heal_queued_before_galeras_yields_once_it_has_the_lock(good, tmp_path,
                                                                          monkeypatch):
    """A backend heal that passed the door before Galera's heal began, and waited for the
    heal lock, still steps aside when it gets it."""
    client = FakeClient({"grains.get": lambda n: True,
                         "ha_heal.ensure_running": lambda n: {
                             "was": "active", "restarted": False, "active": True,
                             "comment": "already active"}})
    runner = heal_runner(good, tmp_path, client, monkeypatch)
    real_lock = runner._heal_lock

    @runner.contextlib.contextmanager
    def lock_then_galera_begins(*a, **kw):
        with real_lock(*a, **kw):
            marker = tmp_path / "hastack" / runner.GALERA_IN_FLIGHT
            marker.write_text(str(time.time()))
            yield
    monkeypatch.setattr(runner, "_heal_lock", lock_then_galera_begins)
    ret = runner.heal(data={"kind": "backend", "id": "ctl1", "service": "keystone",
                            "server": "ctl2", "state": "DOWN"})
    assert ret["result"] == "deferred" and ret["reason"] == runner.GALERA_FIRST
    assert not [c for c in client.calls if c[0] == "ha_heal.ensure_running"]
