"""DRBD in the lab's qemu VMs db1/db2 (`hastack lab drbd up` on top of the session's lab):
deploy gives Primary/Secondary UpToDate with MariaDB on the Primary behind its own address;
every row written there is readable after a clean move and after the Primary's VM is powered
off and the reactor promotes the survivor; the reactor refuses while the master still sees
the Primary, and when the survivor's disk is not UpToDate."""

import secrets
import subprocess
import time

import pymysql
import pytest

from conftest import hastack
from hastack.lab import layout, vm
from hastack.lab.master import bin_path

pytestmark = pytest.mark.timeout(1800)

RESOURCE = "mysql"
VMS = list(layout.DRBD_VMS)
ADDRESS = str(layout.SUBNET.network_address + layout.DRBD_SERVICE_ADDRESS)


@pytest.fixture(scope="module")
def drbd_lab(lab):
    """The DRBD VMs deployed, removed afterwards pass or fail."""
    try:
        res = hastack("lab", "drbd", "up", timeout=3600)
        print(res.stdout[-3000:])
        yield lab
    finally:
        hastack("lab", "drbd", "down", check=False)


def statuses(lab, nodes=VMS, timeout=120):
    # The VMs run under software emulation on a loaded host: Salt's own wait for a minion
    # that is slow to return (-t, then its job queries) can pass a minute.
    return lab.salt("-L", ",".join(nodes), "ha_drbd.status", RESOURCE, "-t", "30",
                    timeout=timeout)


def primary_of(lab):
    found = [n for n, st in statuses(lab).items() if isinstance(st, dict)
             and st["role"] == "Primary"]
    assert len(found) == 1, found
    return found[0]


def other(node):
    return [n for n in VMS if n != node][0]


def machine(lab, name):
    return vm.lab_vm(lab.lab, name)


@pytest.fixture(scope="module")
def db(drbd_lab):
    """A database and a user on the DRBD-backed MariaDB, created through its socket on the
    Primary; returns a connect() to the service's own address."""
    password = secrets.token_urlsafe(16)
    sql = ("CREATE DATABASE IF NOT EXISTS hastack_drbd_test; "
           "CREATE OR REPLACE USER 'tester'@'%%' IDENTIFIED BY '%s'; "
           "GRANT ALL ON hastack_drbd_test.* TO 'tester'@'%%'; "
           "CREATE OR REPLACE TABLE hastack_drbd_test.items "
           "(id INT PRIMARY KEY, note VARCHAR(64)) ENGINE=InnoDB;" % password)
    node = primary_of(drbd_lab)
    out = drbd_lab.salt(node, "cmd.run_all", "mariadb", "stdin=" + sql, "-t", "60",
                        timeout=120)[node]
    assert out["retcode"] == 0, out

    def connect(timeout=5):
        return pymysql.connect(host=ADDRESS, user="tester", password=password,
                               database="hastack_drbd_test", connect_timeout=timeout,
                               read_timeout=30, write_timeout=30, autocommit=True)
    return connect


def write_rows(connect, start, count):
    conn = connect()
    try:
        with conn.cursor() as cur:
            for i in range(start, start + count):
                cur.execute("INSERT INTO items VALUES (%s, %s)", (i, "row %d" % i))
    finally:
        conn.close()
    return list(range(start, start + count))


def read_ids(connect):
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM items ORDER BY id")
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def serving(connect):
    try:
        read_ids(connect)
        return True
    except pymysql.MySQLError:
        return False


def wait_in_sync(lab, timeout=600):
    lab.wait_for(lambda: all(isinstance(st, dict) and st["disk"] == "UpToDate"
                             and st["peer_disk"] == "UpToDate"
                             for st in statuses(lab).values())
                 and len(statuses(lab)) == 2, timeout=timeout, what="both disks UpToDate")


def test_deploy_gives_primary_and_secondary_uptodate(drbd_lab, db):
    sts = statuses(drbd_lab)
    roles = sorted(st["role"] for st in sts.values())
    assert roles == ["Primary", "Secondary"], sts
    for st in sts.values():
        assert (st["disk"], st["peer_disk"], st["connection"]) == \
            ("UpToDate", "UpToDate", "Connected"), st
    res = drbd_lab.salt_run("hastack.drbd_status", RESOURCE)
    assert res.returncode == 0, res.stdout + res.stderr
    primary = primary_of(drbd_lab)
    active = drbd_lab.salt(primary, "ha_drbd.active", RESOURCE, "-t", "60")[primary]
    assert active == {"primary": True, "mounted": True, "service": True, "address": True}
    passive = drbd_lab.salt(other(primary), "ha_drbd.active", RESOURCE,
                            "-t", "60")[other(primary)]
    assert passive == {"primary": False, "mounted": False, "service": False,
                       "address": False}
    conn = db()
    with conn.cursor() as cur:
        cur.execute("SELECT @@hostname, @@datadir")
        assert cur.fetchone() == (primary, "/srv/mysql/mysql/")
    conn.close()


def test_rows_survive_a_clean_move(drbd_lab, db):
    old = primary_of(drbd_lab)
    written = write_rows(db, 1, 300)
    res = drbd_lab.salt_run("hastack.drbd_failover", RESOURCE, "to=" + other(old), timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    assert primary_of(drbd_lab) == other(old)
    ids = read_ids(db)
    assert ids == written, "%d rows written, %d read after the move" % (len(written), len(ids))
    # The old Primary is Secondary and in sync again, ready for the next move.
    wait_in_sync(drbd_lab, timeout=120)


def test_the_reactor_refuses_while_the_master_sees_the_primary(drbd_lab, db):
    primary = primary_of(drbd_lab)
    secondary = other(primary)
    # The replication link breaks but both nodes live: the Secondary's beacon reports the
    # Primary lost, and the reactor must not promote it (the master still sees the Primary).
    out = drbd_lab.salt(secondary, "cmd.run_all", "drbdadm disconnect %s" % RESOURCE,
                        "-t", "60")[secondary]
    assert out["retcode"] == 0, out
    try:
        time.sleep(20)
        sts = statuses(drbd_lab)
        assert sts[secondary]["role"] == "Secondary" and sts[primary]["role"] == "Primary", sts
        assert serving(db)
        res = drbd_lab.salt_run("hastack.drbd_autopromote", RESOURCE, "survivor=" + secondary)
        assert res.returncode != 0 and "still sees %s" % primary in res.stdout, res.stdout
    finally:
        drbd_lab.salt(secondary, "cmd.run_all", "drbdadm connect %s" % RESOURCE, "-t", "60")
    wait_in_sync(drbd_lab, timeout=120)


def listen(lab, tag, count=1):
    """``salt-run state.event`` for ``tag``, started now; .communicate() gives the events."""
    return subprocess.Popen([bin_path("salt-run"), "-c", lab.lab.master.conf_dir,
                             "state.event", "tagmatch=" + tag, "count=%d" % count],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_rows_survive_power_off_of_the_primary_and_auto_promotion(drbd_lab, db):
    old = primary_of(drbd_lab)
    survivor = other(old)
    before = read_ids(db)
    written = before + write_rows(db, max(before, default=0) + 1, 300)
    events = listen(drbd_lab, "hastack/drbd/autopromote")
    killed = time.monotonic()
    machine(drbd_lab, old).power_off()
    drbd_lab.wait_for(lambda: serving(db), timeout=300,
                      what="MariaDB on %s at %s after %s lost power" % (survivor, ADDRESS, old))
    took = time.monotonic() - killed
    print("power-off of %s to MariaDB answering on %s: %.1f s" % (old, survivor, took))
    assert statuses(drbd_lab, [survivor])[survivor]["role"] == "Primary"
    ids = read_ids(db)
    assert ids == written, "%d rows acknowledged, %d read after promotion" % (len(written),
                                                                             len(ids))
    out, _ = events.communicate(timeout=120)
    assert "promote" in out and survivor in out, out
    # The old Primary boots, comes up Secondary by itself and resyncs from the survivor.
    image_root = vm.image_dir()
    machine(drbd_lab, old).start(image_root)
    drbd_lab.wait_for(lambda: drbd_lab.ping([old], timeout=15) == {old}, timeout=600,
                      what="%s's minion back" % old)
    wait_in_sync(drbd_lab, timeout=600)
    sts = statuses(drbd_lab)
    assert (sts[old]["role"], sts[survivor]["role"]) == ("Secondary", "Primary"), sts


def test_a_survivor_without_an_uptodate_disk_is_not_promoted(drbd_lab, db):
    primary = primary_of(drbd_lab)
    survivor = other(primary)
    # The Secondary loses its disk (detached: Diskless) while still connected; then the
    # Primary's VM loses power. The beacon reports the Primary lost, the reactor must refuse.
    out = drbd_lab.salt(survivor, "cmd.run_all", "drbdadm detach %s" % RESOURCE,
                        "-t", "60")[survivor]
    assert out["retcode"] == 0, out
    assert statuses(drbd_lab, [survivor])[survivor]["disk"] == "Diskless"
    events = listen(drbd_lab, "hastack/drbd/autopromote")
    machine(drbd_lab, primary).power_off()
    out, _ = events.communicate(timeout=180)
    assert "refuse" in out and "Diskless, not UpToDate" in out, out
    st = statuses(drbd_lab, [survivor])[survivor]
    assert st["role"] == "Secondary", st
    assert not serving(db)
    res = drbd_lab.salt_run("hastack.drbd_autopromote", RESOURCE, "survivor=" + survivor)
    assert res.returncode != 0 and "Diskless, not UpToDate" in res.stdout, res.stdout
    # The last test of the module: the VMs are removed next. A powered-off Primary's return
    # (boot, rejoin as Secondary, resync) is test_rows_survive_power_off_...'s; booting it
    # again here cost 8 of the suite's minutes under emulation.
