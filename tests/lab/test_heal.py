"""Auto-healing in the lab: nobody but the beacons and the master's reactor acts. A stopped
service comes back, a stopped Galera member rejoins, a VIP held twice ends with one holder,
a full Galera outage under a writer comes back to a 3-node Primary with every acknowledged
row, and a failure that heals cannot fix is damped and raised as an alert."""

import json
import secrets
import time

import pytest

from hastack.lab import load
from hastack.lab.load import Writer

pytestmark = pytest.mark.timeout(900)

MEMBERS = ["ctl1", "ctl2", "ctl3"]
API = "198.18.10.100"


def heal_log(lab, since, resource=None):
    res = lab.salt_run("hastack.heal_log", "limit=200", "--out=json")
    records = json.loads(res.stdout or "[]")
    return [r for r in records if r["time"] >= since
            and (resource is None or r["resource"] == resource)]


def utc_now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def active(lab, node, unit):
    return lab.sh(node, "systemctl", "is-active", unit).stdout.strip() == "active"


def primary_of_size(lab, node, size="3"):
    try:
        return (load.wsrep(lab.lab.node(node), "wsrep_cluster_status") == "Primary"
                and load.wsrep(lab.lab.node(node), "wsrep_local_state_comment") == "Synced"
                and load.wsrep(lab.lab.node(node), "wsrep_cluster_size") == size)
    except RuntimeError:
        return False


@pytest.fixture(autouse=True)
def fresh_damping(lab):
    """Each test starts with no heal attempts counted (earlier tests broke things too)."""
    lab.salt_run("hastack.heal_reset")
    yield


def test_beacon_is_on_every_node(lab):
    answers = lab.salt("*", "beacons.list", "return_yaml=False")
    for node in ["ctl1", "ctl2", "ctl3", "net1", "net2"]:
        assert "ha_health" in answers[node], (node, answers.get(node))


def test_a_stopped_service_is_started_again(lab):
    since = utc_now()
    lab.sh("ctl2", "systemctl", "stop", "keystone")
    started = time.monotonic()
    lab.wait_for(lambda: active(lab, "ctl2", "keystone"), timeout=60,
                 what="the reactor to start keystone on ctl2")
    print("keystone back after %.1f s" % (time.monotonic() - started))
    lab.wait_for(lambda: any(r["result"] == "healed"
                             for r in heal_log(lab, since, "service:ctl2:keystone")),
                 timeout=30, what="the heal in the log")
    # Seen by the node's beacon (unit inactive) or by a load balancer's (backend DOWN),
    # whichever came first; either way it was started again.
    record = [r for r in heal_log(lab, since, "service:ctl2:keystone")
              if r["result"] == "healed"][0]
    assert record["seen"]["state"] in ("inactive", "DOWN"), record
    assert "keystone was inactive; restarted: active" in record["done"], record


def test_a_stopped_galera_member_is_started_and_rejoins(lab):
    since = utc_now()
    lab.sh("ctl3", "systemctl", "stop", "mariadb")
    lab.wait_for(lambda: all(primary_of_size(lab, n) for n in MEMBERS), timeout=180,
                 what="ctl3 back in a 3-node Primary")
    records = heal_log(lab, since, "galera")
    assert any(r["result"] == "healed" and r["action"]["action"] == "galera_join"
               for r in records), records


def test_a_vip_held_twice_ends_with_its_preferred_holder(lab):
    lab.wait_for(lambda: lab.holders(API) == ["ctl1"], timeout=60, what="api on ctl1")
    since = utc_now()
    lab.sh("ctl3", "ip", "addr", "add", API + "/32", "dev", "host0")
    lab.wait_for(lambda: lab.holders(API) == ["ctl1"], timeout=60,
                 what="the second holder to let go")
    records = heal_log(lab, since, "vip:api")
    assert any(r["result"] == "healed" and r["action"]["nodes"] == ["ctl3"]
               for r in records), records


def test_a_full_galera_outage_comes_back_by_itself_with_every_row(lab):
    db = load.database(lab.lab.node("ctl1"), secrets.token_urlsafe(16))
    writer = Writer(db)
    writer.start()
    # A writer that is really writing (the database VIP may have just moved back).
    lab.wait_for(lambda: len(writer.acked) > 100, timeout=60, what="the writer to write")
    since = utc_now()
    lab.sh_all(MEMBERS, "systemctl", "kill", "-s", "KILL", "mariadb")
    killed = time.monotonic()
    time.sleep(1)
    writer.stop()
    lab.wait_for(lambda: all(primary_of_size(lab, n) for n in MEMBERS), timeout=240,
                 what="a 3-node Primary with no human")
    print("full outage back in %.1f s" % (time.monotonic() - killed))
    assert writer.lost(db, MEMBERS) == []
    # The runner logs its heal once its own last check (every member Synced) is done, which
    # can be a little after this test saw the cluster whole.
    lab.wait_for(lambda: any(r["result"] == "healed"
                             and r["action"]["action"] == "galera_recover"
                             for r in heal_log(lab, since, "galera")),
                 timeout=60, what="the recovery in the heal log")


def test_a_failure_heals_cannot_fix_is_damped_and_alerted(lab):
    since = utc_now()
    # A runtime drop-in that fails every start: every heal attempt fails. (A runtime mask
    # would not do: the unit in /etc/systemd/system takes precedence over /run.)
    dropin = "/run/systemd/system/keystone.service.d"
    lab.sh("ctl3", "sh", "-c", "mkdir -p %s && printf '[Service]\\nExecStartPre=/bin/false\\n'"
           " > %s/broken.conf && systemctl daemon-reload && systemctl stop keystone"
           % (dropin, dropin))
    try:
        lab.wait_for(lambda: any(r["result"] == "gave-up"
                                 for r in heal_log(lab, since, "service:ctl3:keystone")),
                     timeout=240, what="the healing to give up")
        records = heal_log(lab, since, "service:ctl3:keystone")
        tried = [r for r in records if r["result"] == "failed"]
        assert len(tried) == 3, [r["result"] for r in records]
        # Past the alert, no further attempt while the window lasts.
        time.sleep(20)
        later = heal_log(lab, since, "service:ctl3:keystone")
        assert len([r for r in later if r["result"] == "failed"]) == 3
        assert len([r for r in later if r["result"] == "gave-up"]) == 1
    finally:
        lab.sh("ctl3", "sh", "-c", "rm -rf %s && systemctl daemon-reload" % dropin)
        lab.salt_run("hastack.heal_reset", "resource=service:ctl3:keystone")
    lab.wait_for(lambda: active(lab, "ctl3", "keystone"), timeout=60,
                 what="keystone back on ctl3 once the human fixed it")
    # Answering, not only started, before the next test uses it (its workers take seconds
    # to load on a busy host).
    lab.wait_for(lambda: lab.get(lab.lab.node("ctl3").address, 5000, "/v3")[0] == 200,
                 timeout=120, what="keystone on ctl3 answering GET /v3")
