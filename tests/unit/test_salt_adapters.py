"""The Salt adapters are thin: given a pillar, they hand it to hastack and report back in
Salt's terms (return data, retcode, __virtual__ reasons). Loaded as plain modules with the
dunders Salt would inject."""

import importlib.util
import os

from conftest import REPO


def load(kind, name, **dunders):
    path = os.path.join(REPO, kind, name + ".py")
    spec = importlib.util.spec_from_file_location("test_" + name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for key, value in dunders.items():
        setattr(mod, key, value)
    return mod


def test_validate_runner_refuses_and_sets_retcode(good, monkeypatch):
    good["vips"]["db"]["router_id"] = 51
    runner = load("_runners", "hastack", __opts__={"id": "master"}, __context__={})
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": good})
    ret = runner.validate()
    assert ret["result"] is False and ret["retcode"] == 1
    assert ret["errors"] == ["hastack:vips:db:router_id: 51 is already used by VIP api; "
                             "VRRP router ids must be unique on the link"]
    assert runner.__context__["retcode"] == 1


def test_validate_runner_reports_pillar_render_errors(good, monkeypatch):
    runner = load("_runners", "hastack", __opts__={"id": "master"}, __context__={})
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {
        "hastack": good, "_errors": ["Rendering SLS 'hastack.topology' failed"]})
    assert runner.validate()["errors"] == ["Rendering SLS 'hastack.topology' failed"]


def test_validate_runner_accepts_a_good_topology(good, monkeypatch):
    runner = load("_runners", "hastack", __opts__={"id": "master"}, __context__={})
    monkeypatch.setattr(runner, "_pillar", lambda minion=None: {"hastack": good})
    assert runner.validate() == {"result": True, "errors": [],
                                 "summary": "5 nodes, 3 VIPs, 3 services"}
    assert "retcode" not in runner.__context__


def test_topology_module_answers_for_this_node(good):
    pillar = {"hastack": good}
    mod = load("_modules", "ha_topology", __grains__={"id": "net1"},
               __salt__={"pillar.get": lambda key, default=None, unmask=False:
                         pillar.get(key, default) if unmask else "**********"})
    assert mod.__virtual__() == "ha_topology"
    assert mod.node() == {"address": "198.18.10.14", "roles": ["network"]}
    assert "keepalived" in mod.packages() and "haproxy" not in mod.packages()
    assert mod.validate() == []


def test_topology_module_declines_without_hastack():
    mod = load("_modules", "ha_topology")
    mod.HAS_HASTACK = False
    ok, reason = mod.__virtual__()
    assert ok is False and "salt-pip install hastack" in reason


def galera_module(monkeypatch, stops_after):
    """ha_galera with systemctl faked: MariaDB leaves after ``stops_after`` looks at its
    unit (None: only SIGKILL ends it)."""
    mod = load("_modules", "ha_galera")
    calls, looks = [], [0]

    def run(argv, **kw):
        calls.append(argv[1:])
        return type("Res", (), {"returncode": 0, "stdout": "", "stderr": ""})()

    def running():
        looks[0] += 1
        if ["kill", "-s", "KILL", "mariadb"] in calls:
            return False
        return stops_after is None or looks[0] <= stops_after
    monkeypatch.setattr(mod.subprocess, "run", run)
    monkeypatch.setattr(mod, "_running", running)
    monkeypatch.setattr(mod.time, "sleep", lambda s: None)
    return mod, calls


def test_galera_stop_kills_a_member_that_ignores_sigterm(monkeypatch):
    clock = [0.0]
    mod, calls = galera_module(monkeypatch, stops_after=None)
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock.__setitem__(0, clock[0] + 1)
                        or clock[0])
    ret = mod.stop(kill_after=5)
    assert ret == {"result": True, "comment": "killed after 5 s without stopping"}
    assert calls == [["stop", "--no-block", "mariadb"], ["kill", "-s", "KILL", "mariadb"]]


def test_galera_stop_does_not_kill_a_member_that_stops(monkeypatch):
    mod, calls = galera_module(monkeypatch, stops_after=2)
    assert mod.stop(kill_after=5) == {"result": True, "comment": "stopped"}
    assert calls == [["stop", "--no-block", "mariadb"]]


def test_galera_join_kills_a_member_stuck_outside_the_primary_then_starts_it(monkeypatch):
    """Debian's unit never sends SIGKILL and waits 15 min for a stop: a member that ignores
    SIGTERM while outside the Primary component must not hang the join."""
    clock = [0.0]
    mod, calls = galera_module(monkeypatch, stops_after=None)
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock.__setitem__(0, clock[0] + 1)
                        or clock[0])
    monkeypatch.setattr(mod, "status", lambda: {"synced": False, "primary": False,
                                                "ready": False})
    assert mod.join()["result"] is True
    assert calls == [["stop", "--no-block", "mariadb"], ["kill", "-s", "KILL", "mariadb"],
                     ["start", "mariadb"]]


def test_galera_join_starts_a_stopped_member_without_stopping_anything(monkeypatch):
    mod, calls = galera_module(monkeypatch, stops_after=0)
    monkeypatch.setattr(mod, "status", lambda: None)
    assert mod.join(donor="ctl3,")["result"] is True
    assert calls == [["set-environment", "MYSQLD_OPTS=--wsrep_sst_donor=ctl3,"],
                     ["start", "mariadb"], ["unset-environment", "MYSQLD_OPTS"]]


U1 = "2dbf1857-f2a2-11f1-a878-1390e1f5cbde"


def reporting_member(monkeypatch, live):
    """ha_galera on a member that runs (``live``: its wsrep status, None when it waits for a
    Primary component and does not answer) until stopped; a crash left grastate at -1."""
    mod, calls = galera_module(monkeypatch, stops_after=None)
    clock = [0.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock.__setitem__(0, clock[0] + 1)
                        or clock[0])
    monkeypatch.setattr(mod, "status", lambda: live if mod._running() else None)
    monkeypatch.setattr(mod, "grastate", lambda: {"uuid": U1, "seqno": -1,
                                                  "safe_to_bootstrap": False})
    monkeypatch.setattr(mod, "recover", lambda: {"uuid": U1, "seqno": 4242})
    return mod, calls


def test_galera_report_can_stop_a_member_outside_the_primary_and_read_its_position(
        monkeypatch):
    mod, calls = reporting_member(monkeypatch, live=None)
    assert mod.report()["running"] is True and calls == []     # only asked: nothing done
    rep = mod.report(stop_outside_primary=True, kill_after=1)
    assert calls == [["stop", "--no-block", "mariadb"], ["kill", "-s", "KILL", "mariadb"]]
    assert rep == {"running": False, "stopped": True, "has_grastate": True, "uuid": U1,
                   "seqno": 4242, "safe_to_bootstrap": False}


def test_galera_report_never_stops_a_primary_member(monkeypatch):
    live = {"primary": True, "synced": True, "ready": True, "cluster_uuid": U1,
            "last_committed": 99}
    mod, calls = reporting_member(monkeypatch, live=live)
    rep = mod.report(stop_outside_primary=True, kill_after=1)
    assert calls == [] and rep["running"] and rep["primary"] and rep["seqno"] == 99


def test_galera_report_names_a_stop_that_failed(monkeypatch):
    mod, calls = reporting_member(monkeypatch, live=None)
    monkeypatch.setattr(mod, "stop", lambda kill_after=None: {
        "result": False, "comment": "mariadb still running after SIGKILL"})
    rep = mod.report(stop_outside_primary=True, kill_after=1)
    assert rep == {"running": True,
                   "error": "stopping it failed: mariadb still running after SIGKILL"}


def heal_module(monkeypatch, states):
    """ha_heal with systemctl faked: ``is-active`` answers ``states`` in turn (the last
    one from then on); records every other systemctl call."""
    mod = load("_modules", "ha_heal")
    states, calls = list(states), []

    def run(argv, **kw):
        if argv[1] == "is-active":
            out = states.pop(0) if len(states) > 1 else states[0]
            return type("Res", (), {"returncode": 0, "stdout": out + "\n", "stderr": ""})()
        calls.append(argv[1:])
        if argv[1] == "restart":
            states[:] = ["active"]
        return type("Res", (), {"returncode": 0, "stdout": "", "stderr": ""})()
    clock = [0.0]
    monkeypatch.setattr(mod.subprocess, "run", run)
    monkeypatch.setattr(mod.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s))
    monkeypatch.setattr(mod.time, "monotonic", lambda: clock[0])
    return mod, calls


def test_heal_ensure_running_restarts_a_stopped_unit(monkeypatch):
    mod, calls = heal_module(monkeypatch, ["inactive"])
    ret = mod.ensure_running("keystone")
    assert ret["restarted"] is True and ret["active"] is True
    assert calls == [["reset-failed", "keystone"], ["restart", "keystone"]]


def test_heal_ensure_running_leaves_a_starting_mariadb_to_finish(monkeypatch):
    """A joiner in a state transfer stays 'activating' past the settle time: restarting it
    would abort the transfer and hang on a stop mariadbd ignores."""
    mod, calls = heal_module(monkeypatch, ["activating"])
    ret = mod.ensure_running("mariadb", restart_starting=False)
    assert ret == {"was": "activating", "restarted": False, "active": False,
                   "comment": "mariadb still starting after 30 s; left to finish"}
    assert calls == []
    mod, calls = heal_module(monkeypatch, ["activating"])
    assert mod.ensure_running("keystone")["restarted"] is True


def test_galera_bootstrap_makes_the_sst_user_only_when_asked_and_started(monkeypatch):
    mod, calls = galera_module(monkeypatch, stops_after=None)
    made = []
    monkeypatch.setattr(mod, "ensure_sst_user",
                        lambda: made.append(1) or {"result": True, "comment": "sst present"})
    assert mod.bootstrap() == {"result": True, "comment": ""}
    assert made == []
    assert mod.bootstrap(sst_user=True) == {"result": True, "comment": "sst present"}
    assert made == [1]
    # A failed galera_new_cluster: no user made on a server that is not running.
    monkeypatch.setattr(mod.subprocess, "run", lambda argv, **kw: type(
        "Res", (), {"returncode": 1, "stdout": "", "stderr": "failed"})())
    assert mod.bootstrap(sst_user=True) == {"result": False, "comment": "failed"}
    assert made == [1]


def test_galera_write_grastate_by_node_writes_this_nodes_entry(monkeypatch, tmp_path):
    """One call writes every member's grastate.dat: each minion takes its own entry."""
    mod = load("_modules", "ha_galera", __grains__={"id": "ctl2"})
    monkeypatch.setattr(mod, "DATADIR", str(tmp_path))
    monkeypatch.setattr(mod, "GRASTATE", str(tmp_path / "grastate.dat"))
    monkeypatch.setattr(mod, "_running", lambda: False)
    text = ("# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %d\n"
            "safe_to_bootstrap: %d\n")
    uuid = "163d3dec-f290-11f1-8ae1-1ba1160e7667"
    plan = {"ctl1": text % (uuid, 1795, 1), "ctl2": text % (uuid, 1794, 0)}
    assert mod.write_grastate(by_node=plan)["result"] is True
    assert (tmp_path / "grastate.dat").read_text() == plan["ctl2"]
    mod.__grains__ = {"id": "ctl3"}
    assert mod.write_grastate(by_node=plan) == {"result": True,
                                                "comment": "no grastate.dat for this node"}
    assert (tmp_path / "grastate.dat").read_text() == plan["ctl2"]
