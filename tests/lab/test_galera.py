"""Galera in the lab: a 3-node Primary from deploy, a single node's crash healed by IST (its
position recovered from InnoDB first, which a clean restart skips), and a full outage under a
writer recovered by galera_recover with every acknowledged row kept; the refusals name the
node at fault."""

import contextlib
import re
import secrets
import time

import pytest

from conftest import hastack
from hastack.lab import load
from hastack.lab.load import Writer

# Faults injected here test Galera's, keepalived's and RabbitMQ's own handling: healing paused.
pytestmark = [pytest.mark.timeout(900), pytest.mark.usefixtures("healing_paused")]

MEMBERS = ["ctl1", "ctl2", "ctl3"]


def sql(lab, node, statement):
    return load.sql(lab.lab.node(node), statement)


def wsrep(lab, node, var):
    return load.wsrep(lab.lab.node(node), var)


@pytest.fixture(scope="module")
def db(lab):
    """A database and a user reachable through the database VIP."""
    return load.database(lab.lab.node("ctl1"), secrets.token_urlsafe(16))


def primary_of_size(lab, node):
    return (wsrep(lab, node, "wsrep_cluster_status") == "Primary"
            and wsrep(lab, node, "wsrep_local_state_comment") == "Synced"
            and wsrep(lab, node, "wsrep_cluster_size") == "3")


def test_deploy_gives_a_three_node_primary_behind_the_vip(lab, db):
    for node in MEMBERS:
        assert primary_of_size(lab, node), node
        assert lab.get("198.18.10.1%d" % int(node[-1]), 9200)[0] == 200
    conn = db()
    with conn.cursor() as cur:
        cur.execute("SELECT @@hostname")
        # One writer: the VIP's backend is the first member while it is healthy.
        assert cur.fetchone()[0] == "ctl1"


def _main_pid(lab, node, unit):
    return lab.sh(node, "systemctl", "show", "-p", "MainPID", "--value", unit).stdout.strip()


def test_a_killed_node_rejoins_by_ist(lab):
    since = lab.sh("ctl3", "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    old_pid = _main_pid(lab, "ctl3", "mariadb")
    lab.sh("ctl3", "systemctl", "kill", "-s", "KILL", "mariadb")
    # systemd restarts it (Restart=on-abnormal, after 1 s): a new process, back in a 3-node
    # Primary, by IST or with nothing to transfer (no write came in meanwhile), never by a
    # full copy. The restart can be quicker than the group's notice of the loss.
    lab.wait_for(lambda: _main_pid(lab, "ctl3", "mariadb") not in (old_pid, "0", "")
                 and lab.sh("ctl3", "systemctl", "is-active", "mariadb").stdout.strip()
                 == "active" and primary_of_size(lab, "ctl3"), timeout=120,
                 what="ctl3 to rejoin")
    log = lab.sh("ctl3", "journalctl", "-u", "mariadb", "--since", since, "--no-pager").stdout
    # After a crash grastate.dat says -1: the start recovers the position from InnoDB.
    assert RECOVERY_PASS.search(log), log[-3000:]
    assert_no_full_copy(log)


# galera_recovery's line in the unit's journal (mariadbd's own says "position from storage").
RECOVERY_PASS = re.compile(r"WSREP: Recovered position [0-9a-f-]{36}:\d+")


def assert_no_full_copy(log):
    assert ("IST received" in log or "Receiving IST" in log
            or "state transfer needed: no" in log), log[-3000:]
    assert "State transfer required" not in log or "SST" not in log.split(
        "State transfer required")[-1].split("\n")[0]


def test_a_clean_restart_starts_from_grastate_and_rejoins_by_ist(lab):
    since = lab.sh("ctl2", "date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    assert lab.sh("ctl2", "systemctl", "restart", "mariadb").returncode == 0
    lab.wait_for(lambda: primary_of_size(lab, "ctl2"), timeout=120, what="ctl2 to rejoin")
    log = lab.sh("ctl2", "journalctl", "-u", "mariadb", "--since", since, "--no-pager").stdout
    # The clean stop wrote the seqno, which Galera starts from: no recovery pass first.
    saved = re.search(r"Found saved state: [0-9a-f-]{36}:(-?\d+)", log)
    assert saved and int(saved.group(1)) >= 0, log[-3000:]
    assert not RECOVERY_PASS.search(log), log[-3000:]
    assert_no_full_copy(log)


def _kill_all(lab):
    lab.sh_all(MEMBERS, "systemctl", "kill", "-s", "KILL", "mariadb")


GRASTATE = "/var/lib/mysql/grastate.dat"


@contextlib.contextmanager
def grastate_field(lab, node, field, value):
    """Every member stopped, one field of ``node``'s grastate.dat changed for the body."""
    _stop_all(lab)
    original = lab.sh(node, "cat", GRASTATE).stdout
    changed = "\n".join("%s:   %s" % (field, value) if line.startswith(field) else line
                        for line in original.splitlines()) + "\n"
    lab.sh(node, "sh", "-c", "cat > %s <<'EOF'\n%sEOF" % (GRASTATE, changed))
    try:
        yield
    finally:
        lab.sh(node, "sh", "-c", "cat > %s <<'EOF'\n%sEOF" % (GRASTATE, original))


def _stop_all(lab):
    for node in MEMBERS:
        lab.sh(node, "systemctl", "stop", "mariadb")


def test_full_outage_under_a_writer_loses_no_acknowledged_row(lab, db):
    uuid_before = wsrep(lab, "ctl1", "wsrep_cluster_state_uuid")
    writer = Writer(db)
    writer.start()
    time.sleep(2)
    _kill_all(lab)
    time.sleep(1)
    writer.stop()
    assert len(writer.acked) > 50, "the writer barely wrote; the test proves nothing"

    res = lab.salt_run("hastack.galera_recover", timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "decision:" in res.stdout
    for node in MEMBERS:
        lab.wait_for(lambda: primary_of_size(lab, node), timeout=60, what=node + " Synced")
    assert wsrep(lab, "ctl1", "wsrep_cluster_state_uuid") == uuid_before  # history kept

    lost = writer.lost(db, MEMBERS)
    assert lost == [], "acknowledged rows lost: %s" % lost[:20]


def test_recovery_waits_for_an_unreachable_node(lab):
    _stop_all(lab)
    hastack("lab", "partition", "ctl3")
    try:
        res = lab.salt_run("hastack.galera_recover", timeout=300)
        assert res.returncode != 0
        assert "waiting on node ctl3 to report" in res.stdout
        assert lab.sh("ctl1", "systemctl", "is-active", "mariadb").stdout.strip() != "active"
    finally:
        hastack("lab", "heal", "ctl3")
    lab.wait_for(lambda: lab.ping(["ctl3"], timeout=2) == {"ctl3"}, timeout=240,
                 what="ctl3's minion back")


def test_recovery_refuses_when_a_position_cannot_be_read(lab):
    """ctl2 crashed (grastate seqno -1) and its InnoDB files cannot be read: no position,
    so no automatic choice."""
    with grastate_field(lab, "ctl2", "seqno", -1):
        lab.sh("ctl2", "chmod", "000", "/var/lib/mysql/ibdata1")
        try:
            res = lab.salt_run("hastack.galera_recover", timeout=300)
        finally:
            lab.sh("ctl2", "chmod", "660", "/var/lib/mysql/ibdata1")
    assert res.returncode != 0
    assert "node ctl2 could not read its position" in res.stdout
    assert lab.sh("ctl1", "systemctl", "is-active", "mariadb").stdout.strip() != "active"


def test_recovery_refuses_a_different_cluster_uuid(lab):
    with grastate_field(lab, "ctl2", "uuid", "6ff00000-bb8d-11e2-b8e3-23de375c1d30"):
        res = lab.salt_run("hastack.galera_recover", timeout=300)
    assert res.returncode != 0
    assert "different cluster histories" in res.stdout and "ctl2" in res.stdout
    res = lab.salt_run("hastack.galera_recover", timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    assert all(primary_of_size(lab, n) for n in MEMBERS)
