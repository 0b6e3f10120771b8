"""DRBD under Pacemaker in the lab's qemu VMs (`hastack lab drbd up --manager pacemaker`):
the MariaDB-on-DRBD of test_drbd.py, with a two-node Corosync/Pacemaker cluster running the
classic stack (a promotable ocf:linbit:drbd clone, the filesystem, the address and MariaDB,
ordered and colocated). After deploy the cluster is quorate with both nodes online and the
stack runs on one node; hastack's runner refuses to move it and no beacon watches it. Every
acknowledged row is readable after the Primary's VM is powered off and Pacemaker promotes the
survivor; the old Primary boots, rejoins as Secondary and resyncs, and the service stays
where it is (stickiness)."""

import time

import pytest

from conftest import hastack
from hastack.lab import vm
from test_drbd import (ADDRESS, RESOURCE, VMS, db, machine, other, primary_of,  # noqa: F401
                       read_ids, serving, statuses, wait_in_sync, write_rows)

pytestmark = pytest.mark.timeout(1800)

STACK = ["mysql-drbd", "mysql-fs", "mysql-ip", "mysql-service"]


@pytest.fixture(scope="module")
def drbd_lab(lab):
    """The DRBD VMs with Pacemaker running the stack; removed afterwards, pass or fail. VMs
    left by test_drbd.py (hastack's manager) are removed first."""
    try:
        hastack("lab", "drbd", "down", check=False)
        res = hastack("lab", "drbd", "up", "--manager", "pacemaker", timeout=3600)
        print(res.stdout[-3000:])
        yield lab
    finally:
        hastack("lab", "drbd", "down", check=False)


def cluster_status(lab, node):
    return lab.salt(node, "ha_cluster.status", "-t", "60", timeout=120)[node]


def wait_stack_on(lab, node, timeout):
    """Until ``node`` sees every piece of the stack running on ``node`` alone."""
    def placed():
        st = cluster_status(lab, node)
        return isinstance(st, dict) and all(
            st["resources"].get(r, {}).get("nodes") == [node] for r in STACK)
    lab.wait_for(placed, timeout=timeout, what="the mysql stack on %s" % node)


def test_deploy_gives_a_quorate_cluster_running_the_stack_on_the_primary(drbd_lab, db):
    primary = primary_of(drbd_lab)
    for node in VMS:
        st = cluster_status(drbd_lab, node)
        assert st["quorate"] and sorted(st["online"]) == sorted(VMS), st
        assert st["ok"], st["problems"]
        assert st["warning"].startswith("FENCING IS DISABLED"), st["warning"]
        for name in STACK:
            assert st["resources"][name]["nodes"] == [primary], (name, st["resources"])
        assert st["resources"]["mysql-drbd"]["instances"] == {
            n: "Promoted" if n == primary else "Unpromoted" for n in VMS}, st["resources"]
    sts = statuses(drbd_lab)
    for s in sts.values():
        assert (s["disk"], s["peer_disk"], s["connection"]) == \
            ("UpToDate", "UpToDate", "Connected"), s
    active = drbd_lab.salt(primary, "ha_drbd.active", RESOURCE, "-t", "60")[primary]
    assert active == {"primary": True, "mounted": True, "service": True, "address": True}
    conn = db()
    with conn.cursor() as cur:
        cur.execute("SELECT @@hostname, @@datadir")
        assert cur.fetchone() == (primary, "/srv/mysql/mysql/")
    conn.close()
    # The CIB is what the pillar says: loading the resources again changes nothing.
    again = drbd_lab.salt(VMS[0], "state.apply", "cluster.resources", "-t", "300",
                          timeout=360)[VMS[0]]
    assert all(s["result"] is True and not s["changes"] for s in again.values()), again


def test_hastack_keeps_its_hands_off(drbd_lab, db):
    res = drbd_lab.salt_run("hastack.drbd_failover", RESOURCE, timeout=300)
    assert res.returncode != 0 and "Pacemaker's" in res.stdout, res.stdout + res.stderr
    res = drbd_lab.salt_run("hastack.drbd_autopromote", RESOURCE, "survivor=" + VMS[1],
                            timeout=300)
    assert res.returncode != 0 and "Pacemaker's" in res.stdout, res.stdout + res.stderr
    res = drbd_lab.salt_run("hastack.drbd_up", timeout=300)
    assert res.returncode == 0 and "Pacemaker runs it" in res.stdout, res.stdout
    for node in VMS:
        beacons = drbd_lab.salt(node, "beacons.list", "return_yaml=False", "-t", "60")[node]
        assert "ha_drbd" not in (beacons or {}), beacons
        boot = drbd_lab.salt(node, "service.enabled", "hastack-drbd@" + RESOURCE,
                             "-t", "60")[node]
        assert boot is False
    assert serving(db)


def test_rows_survive_power_off_of_the_primary_and_pacemaker_promotes(drbd_lab, db):
    old = primary_of(drbd_lab)
    survivor = other(old)
    before = read_ids(db)
    written = before + write_rows(db, max(before, default=0) + 1, 300)
    killed = time.monotonic()
    machine(drbd_lab, old).power_off()
    drbd_lab.wait_for(lambda: serving(db), timeout=300,
                      what="MariaDB on %s at %s after %s lost power" % (survivor, ADDRESS, old))
    took = time.monotonic() - killed
    print("Pacemaker: power-off of %s to MariaDB answering on %s: %.1f s" % (old, survivor,
                                                                              took))
    assert statuses(drbd_lab, [survivor])[survivor]["role"] == "Primary"
    ids = read_ids(db)
    assert ids == written, "%d rows acknowledged, %d read after promotion" % (len(written),
                                                                             len(ids))
    st = cluster_status(drbd_lab, survivor)
    assert st["quorate"] and st["offline"] == [old], st   # two_node: the survivor goes on
    # The old Primary boots, Pacemaker starts its DRBD instance as Unpromoted, it resyncs
    # from the survivor, and the stack stays on the survivor.
    machine(drbd_lab, old).start(vm.image_dir())
    drbd_lab.wait_for(lambda: drbd_lab.ping([old], timeout=15) == {old}, timeout=600,
                      what="%s's minion back" % old)
    wait_in_sync(drbd_lab, timeout=600)
    sts = statuses(drbd_lab)
    assert (sts[old]["role"], sts[survivor]["role"]) == ("Secondary", "Primary"), sts
    wait_stack_on(drbd_lab, survivor, timeout=120)
    st = cluster_status(drbd_lab, survivor)
    assert sorted(st["online"]) == sorted(VMS), st
    assert read_ids(db) == written
