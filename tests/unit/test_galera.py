"""The Galera election, rule by rule, and the files it reads and writes."""

import pymysql
import pytest

from hastack import galera
from hastack.galera import NO_UUID, Report

U1 = "5ee99582-bb8d-11e2-b8e3-23de375c1d30"
U2 = "6ff00000-bb8d-11e2-b8e3-23de375c1d30"
M = ["ctl1", "ctl2", "ctl3"]


def rep(node, seqno=10, uuid=U1, safe=False, has=True, **kw):
    return Report(node=node, has_grastate=has, uuid=uuid, seqno=seqno, safe_to_bootstrap=safe,
                  **kw)


def reports(*items):
    return {r.node: r for r in items}


# (case, reports, operator choice, expected action, expected node, words in the reason)
CASES = [
    ("highest-seqno-wins", reports(rep("ctl1", 10), rep("ctl2", 12), rep("ctl3", 11)), None,
     "bootstrap", "ctl2", "highest seqno (ctl1=10, ctl2=12, ctl3=11)"),
    ("safe-to-bootstrap-beats-seqno",
     reports(rep("ctl1", 10), rep("ctl2", 12), rep("ctl3", 9, safe=True)), None,
     "bootstrap", "ctl3", "safe_to_bootstrap"),
    ("tie-is-pillar-order", reports(rep("ctl1", 7), rep("ctl2", 9), rep("ctl3", 9)), None,
     "bootstrap", "ctl2", "highest seqno"),
    ("missing-node-waits", reports(rep("ctl1", 10), rep("ctl3", 11)), None,
     "wait", "ctl2", "waiting on node ctl2 to report"),
    ("unreadable-position-refuses",
     reports(rep("ctl1"), rep("ctl2", error="mariadbd --wsrep-recover printed no position"),
             rep("ctl3")), None, "refuse", "ctl2", "node ctl2 could not read its position"),
    ("uuid-mismatch-refuses", reports(rep("ctl1", 10), rep("ctl2", 50, uuid=U2), rep("ctl3")),
     None, "refuse", "", "different cluster histories"),
    ("no-grastate-never-wins",
     reports(rep("ctl1", -1, has=False, uuid=NO_UUID), rep("ctl2", 3), rep("ctl3", 4)), None,
     "bootstrap", "ctl3", "highest seqno"),
    ("no-data-anywhere-is-new",
     reports(*(rep(n, -1, has=False, uuid=NO_UUID) for n in M)), None,
     "new", "ctl1", "starts a new cluster"),
    ("data-without-seqno-refuses", reports(rep("ctl1", -1), rep("ctl2"), rep("ctl3")), None,
     "refuse", "ctl1", "has data but no seqno"),
    ("primary-running-means-join",
     reports(rep("ctl1", running=True, primary=True, synced=True), rep("ctl2")), None,
     "join", "ctl1", "running in a Primary component"),
    ("operator-choice-wins", reports(rep("ctl1", 10), rep("ctl3", 11)), "ctl1",
     "bootstrap", "ctl1", "the operator chose node ctl1"),
    ("operator-choice-must-be-member", reports(rep("ctl1")), "net1",
     "refuse", "", "node net1 is not a Galera member"),
]


@pytest.mark.parametrize("reps,choice,action,node,words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_election(reps, choice, action, node, words):
    decision = galera.elect(M, reps, choice)
    assert (decision.action, decision.node) == (action, node), decision.reason
    assert words in decision.reason


def test_refusals_name_the_next_command():
    d = galera.elect(M, reports(rep("ctl1"), rep("ctl3")))
    assert "salt-run hastack.galera_recover node=NAME" in d.reason


def test_joiners_are_the_others_in_pillar_order():
    d = galera.elect(M, reports(rep("ctl1", 1), rep("ctl2", 1), rep("ctl3", 5)))
    assert d.joiners == ["ctl1", "ctl2"]


def test_grastate_plan_keeps_each_seqno_and_marks_only_the_winner():
    reps = reports(rep("ctl1", 10), rep("ctl2", 12), rep("ctl3", 11))
    plan = galera.grastate_plan(galera.elect(M, reps), reps)
    parsed = {n: galera.parse_grastate(t) for n, t in plan.items()}
    assert {n: (p["seqno"], p["safe_to_bootstrap"]) for n, p in parsed.items()} == {
        "ctl1": (10, False), "ctl2": (12, True), "ctl3": (11, False)}
    assert {p["uuid"] for p in parsed.values()} == {U1}


def test_grastate_round_trip():
    text = galera.render_grastate(U1, 1234, True)
    assert galera.parse_grastate(text) == {"uuid": U1, "seqno": 1234, "safe_to_bootstrap": True}
    crashed = ("# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   -1\n"
               "safe_to_bootstrap: 0\n" % U1)
    assert galera.parse_grastate(crashed) == {"uuid": U1, "seqno": -1,
                                              "safe_to_bootstrap": False}


def test_start_position_needed_only_after_a_crash():
    assert not galera.start_position_needed(galera.render_grastate(U1, 1234, False))
    assert not galera.start_position_needed(galera.render_grastate(U1, 0, True))
    # A crash leaves -1; no file, or one that cannot be read, recovers as Debian's unit does.
    assert galera.start_position_needed(galera.render_grastate(U1, -1, False))
    assert galera.start_position_needed(None)
    assert galera.start_position_needed("uuid: %s\nseqno: twelve\n" % U1)
    assert galera.start_position_needed("")


def test_parse_recovered_takes_the_last_position():
    log = ("2026-11-22  3:00:00 0 [Note] WSREP: Recovered position: %s:17\n"
           "2026-11-22  3:00:01 0 [Note] WSREP: Recovered position: %s:1621\n" % (U1, U1))
    assert galera.parse_recovered(log) == (U1, 1621)
    assert galera.parse_recovered("nothing") is None


def test_status_and_health():
    status = galera.status_from_wsrep({
        "wsrep_local_state": "4", "wsrep_local_state_comment": "Synced",
        "wsrep_cluster_status": "Primary", "wsrep_ready": "ON", "wsrep_cluster_size": "3",
        "wsrep_last_committed": "99", "wsrep_cluster_state_uuid": U1})
    assert status["synced"] and status["primary"] and status["cluster_size"] == 3
    assert galera.healthy(status)
    donor = dict(status, state=2, synced=False)
    assert not galera.healthy(donor)
    assert not galera.healthy(dict(status, primary=False))
    assert not galera.healthy(None)


def test_a_joiner_is_started_again_only_when_it_cannot_come_back_by_itself():
    status = galera.status_from_wsrep({
        "wsrep_local_state": "0", "wsrep_local_state_comment": "Initialized",
        "wsrep_cluster_status": "Disconnected", "wsrep_ready": "OFF",
        "wsrep_cluster_size": "0"})
    assert status["cluster_status"] == "Disconnected"
    assert galera.joiner_stuck(status, 0)             # its group connection is closed
    non_primary = dict(status, cluster_status="non-Primary")
    assert not galera.joiner_stuck(non_primary, 10)   # may merge back by itself
    assert galera.joiner_stuck(non_primary, galera.REJOIN_AFTER)
    assert not galera.joiner_stuck(None, 600)         # starting or receiving a transfer
    joining = dict(status, primary=True, cluster_status="Primary", state=1)
    assert not galera.joiner_stuck(joining, 600)      # in the Primary component, joining


def test_config(good):
    cnf = galera.render_config(good, "ctl2")
    assert "bind-address = 198.18.10.12" in cnf
    assert "wsrep_cluster_address = gcomm://198.18.10.11,198.18.10.12,198.18.10.13" in cnf
    assert "wsrep_node_name = ctl2" in cnf and "wsrep_sst_method = rsync" in cnf
    assert 'wsrep_provider_options = "gcache.size=256M; pc.recovery=FALSE"' in cnf
    good["services"]["galera"]["suspect_timeout"] = 2.5
    assert ('wsrep_provider_options = "gcache.size=256M; pc.recovery=FALSE; '
            'evs.suspect_timeout=PT2.5S; evs.keepalive_period=PT0.5S; '
            'evs.inactive_check_period=PT0.5S"' in galera.render_config(good, "ctl2"))
    del good["services"]["galera"]["suspect_timeout"]
    good["services"]["galera"]["sst_method"] = "mariabackup"
    assert ("wsrep_sst_auth = sst:%s" % good["secrets"]["galera_sst_password"]
            in galera.render_config(good, "ctl2"))


@pytest.mark.parametrize("suspect", [2, 2.5, 3, 4.9, 5, 7, 10])
def test_evs_timing_is_what_galera_accepts(suspect):
    # gcomm's range checks (a node with a 2 s suspect_timeout and the default 1 s keepalive
    # failed to start in the lab): keepalive in [0.1 s, suspect/3), check period under
    # suspect/2; Galera's defaults (1 s, 0.5 s) kept where they fit.
    timing = dict(galera.evs_timing(suspect))
    assert timing["evs.suspect_timeout"] == suspect
    assert 0.1 <= timing["evs.keepalive_period"] < suspect / 3
    assert timing["evs.inactive_check_period"] < suspect / 2
    if suspect >= 5:
        assert (timing["evs.keepalive_period"], timing["evs.inactive_check_period"]) == (1, 0.5)


def test_describe():
    assert galera.describe(None) == "no answer"
    assert galera.describe(rep("ctl1", 5, safe=True)) == \
        "stopped, seqno 5 uuid %s safe_to_bootstrap" % U1
    assert galera.describe(rep("ctl1", running=True, primary=True, synced=True)) == \
        "running, Synced Primary"
    assert galera.describe(rep("ctl1", error="boom")) == "stopped, position unreadable: boom"


def test_sst_user_sql_quotes_the_password():
    stmts = galera.sst_user_sql("a'b\\c")
    assert stmts[0] == "CREATE USER IF NOT EXISTS 'sst'@'localhost' IDENTIFIED BY 'a\\'b\\\\c'"
    assert "BINLOG MONITOR" in stmts[2]


class FakeConn:
    def __init__(self, log, fail=False):
        self.log, self.fail = log, fail

    def cursor(self):
        conn = self

        class Cur:
            def __enter__(self):
                return self

            def __exit__(self, *a):
                return False

            def execute(self, q):
                conn.log.append("query")
                if conn.fail:
                    raise pymysql.err.OperationalError(2006, "gone away")

            def fetchall(self):
                return [("wsrep_local_state", "4"), ("wsrep_cluster_status", "Primary"),
                        ("wsrep_ready", "ON")]
        return Cur()

    def close(self):
        self.log.append("close")


def test_health_prober_reuses_its_connection_and_reconnects_once():
    from hastack import galera_health

    log, conns, now = [], [], [0.0]

    def connect():
        log.append("connect")
        conns.append(FakeConn(log))
        return conns[-1]

    prober = galera_health.Prober(connect=connect, max_age=0.1, clock=lambda: now[0])
    assert galera.healthy(prober.status())
    now[0] += 0.05
    prober.status()                       # within max_age: the same answer, no query
    now[0] += 0.2
    prober.status()
    assert log == ["connect", "query", "query"]
    conns[-1].fail = True                 # MariaDB restarted: the old connection is dead
    now[0] += 0.2
    assert galera.healthy(prober.status())
    assert log[3:] == ["query", "close", "connect", "query"]


def test_health_prober_says_down_when_mariadb_does_not_answer():
    from hastack import galera_health

    def connect():
        raise pymysql.err.OperationalError(2002, "can't connect")

    assert galera_health.Prober(connect=connect, max_age=0).status() is None


def test_a_joiner_takes_its_state_from_the_members_written_to_last():
    members = ["ctl1", "ctl2", "ctl3", "ctl4"]
    assert galera.sst_donors(members, ["ctl1", "ctl2", "ctl3"]) == "ctl3,ctl2,"
    # Only the writer is Synced (a first deploy): nothing to prefer, Galera picks it.
    assert galera.sst_donors(members, ["ctl1"]) is None


def test_the_config_names_no_donor(good):
    """Joiners that start together (a first deploy) would each wait for the other."""
    assert "wsrep_sst_donor" not in galera.render_config(good, "ctl2")
