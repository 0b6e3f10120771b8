"""DRBD: the status parsers on captured output, the resource file, the promotion and the
auto-promotion rules in their yes and no cases, and pillar errors that name the field."""

import base64
import copy
import json
import os

import pytest

from hastack import drbd, topology
from hastack.drbd import Status
from hastack.lab import layout, vm

HERE = os.path.dirname(os.path.abspath(__file__))
NODES = ["db1", "db2"]


def fixture(name):
    with open(os.path.join(HERE, "drbd_output", name)) as f:
        return f.read()


# -- parsers ---------------------------------------------------------------------------------------

PROC_CASES = [
    # (captured file, minor, role, disk, connection, replication, peer role, peer disk, pct)
    ("proc_drbd_84_primary_uptodate.txt", 0, "Primary", "UpToDate", "Connected",
     "Established", "Secondary", "UpToDate", None),
    ("proc_drbd_84_syncsource.txt", 0, "Primary", "UpToDate", "Connected", "SyncSource",
     "Secondary", "Inconsistent", "float"),
    # After a split-brain: DRBD dropped the connection (after-sb-*pri disconnect).
    ("proc_drbd_84_standalone.txt", 0, "Secondary", "UpToDate", "StandAlone", "Off",
     "Unknown", "DUnknown", None),
    ("proc_drbd_84_peer_lost.txt", 0, "Secondary", "UpToDate", "WFConnection", "Off",
     "Unknown", "DUnknown", None),
]


@pytest.mark.parametrize("name,minor,role,disk,conn,repl,prole,pdisk,pct", PROC_CASES,
                         ids=[c[0] for c in PROC_CASES])
def test_proc_drbd_84(name, minor, role, disk, conn, repl, prole, pdisk, pct):
    st = drbd.parse_proc_drbd(fixture(name), minor)
    assert (st.role, st.disk, st.connection, st.replication, st.peer_role, st.peer_disk) == \
        (role, disk, conn, repl, prole, pdisk)
    if pct == "float":
        assert 0 <= st.sync_percent < 100 and st.out_of_sync_kib > 0
    else:
        assert st.sync_percent is None


def test_proc_drbd_minor_not_listed_is_down():
    assert drbd.parse_proc_drbd(fixture("proc_drbd_84_primary_uptodate.txt"), 7) is None


def test_version_from_proc_drbd():
    assert drbd.parse_version(fixture("proc_drbd_84_primary_uptodate.txt")) == (8, 4)
    assert drbd.parse_version("") is None


TEXT_CASES = [
    ("status_84_primary.txt", "Primary", "UpToDate", "Connected", "Established", "Secondary",
     "UpToDate"),
    ("status_84_syncsource.txt", "Primary", "UpToDate", "Connected", "SyncSource",
     "Secondary", "Inconsistent"),
    # drbd-utils 9 names 8.4's WFConnection "Connecting" here, as DRBD 9 does.
    ("status_84_peer_lost.txt", "Secondary", "UpToDate", "Connecting", "Off", "Unknown",
     "DUnknown"),
]


@pytest.mark.parametrize("name,role,disk,conn,repl,prole,pdisk", TEXT_CASES,
                         ids=[c[0] for c in TEXT_CASES])
def test_status_text_84(name, role, disk, conn, repl, prole, pdisk):
    st = drbd.parse_status_text(fixture(name), "mysql")
    assert (st.role, st.disk, st.connection, st.replication, st.peer_role, st.peer_disk) == \
        (role, disk, conn, repl, prole, pdisk)


def test_status_text_sync_progress_and_short_form():
    st = drbd.parse_status_text(fixture("status_84_syncsource.txt"), "mysql")
    assert st.sync_percent == 4.15 and st.out_of_sync_kib == 125596 and st.minor == 0
    # `drbdadm status` without --verbose: no connection: word on a connected peer.
    st = drbd.parse_status_text(fixture("status_84_short_primary.txt"), "mysql")
    assert (st.role, st.disk, st.connection, st.peer_role, st.peer_disk) == \
        ("Primary", "UpToDate", "Connected", "Secondary", "UpToDate")


def test_status_text_other_resource_is_none():
    assert drbd.parse_status_text(fixture("status_84_primary.txt"), "other") is None


def test_status_json_9():
    # The shape DRBD 9's `drbdsetup status --json` prints (fixture: see its README line).
    text = fixture("status_9.json")
    st = drbd.parse_status_json(text, "mysql")
    assert (st.role, st.disk, st.minor, st.connection, st.replication, st.peer_role,
            st.peer_disk) == ("Secondary", "UpToDate", 0, "Connected", "Established",
                              "Primary", "UpToDate")
    assert drbd.parse_status_json(text, "nope") is None


def test_status_json_9_syncing_and_disconnected():
    data = json.loads(fixture("status_9.json"))
    peer = data[0]["connections"][0]["peer_devices"][0]
    peer.update({"replication-state": "SyncTarget", "percent-in-sync": 42.5})
    data[0]["devices"][0]["disk-state"] = "Inconsistent"
    st = drbd.parse_status_json(json.dumps(data), "mysql")
    assert st.syncing and st.sync_percent == 42.5 and not st.uptodate
    data[0]["connections"][0]["connection-state"] = "Connecting"
    data[0]["connections"][0]["peer-role"] = "Unknown"
    st = drbd.parse_status_json(json.dumps(data), "mysql")
    assert not st.connected and st.replication == "Off"


def test_generation_uuid():
    assert drbd.parse_gi("0000000000000004:0000000000000000:0000000000000000:"
                         "0000000000000000:0:0:0:0:0:0:0\n") == drbd.UUID_JUST_CREATED
    assert drbd.parse_gi("") is None


# -- the promotion rules ---------------------------------------------------------------------------

def st(role="Secondary", disk="UpToDate", peer_role="Secondary", peer_disk="UpToDate",
       connection="Connected", **kw):
    return Status(resource="mysql", role=role, disk=disk, peer_role=peer_role,
                  peer_disk=peer_disk, connection=connection, **kw)


FRESH = dict(disk="Inconsistent", peer_disk="Inconsistent", current_uuid=4)

# (case, target, statuses, force, expected action, expected force flag, words in the reason)
PROMOTION = [
    ("uptodate-secondary-is-promoted", "db2",
     {"db1": st(), "db2": st()}, False, "promote", False, "UpToDate"),
    ("never-while-peer-primary", "db2",
     {"db1": st(role="Primary"), "db2": st(peer_role="Primary")}, False, "refuse", False,
     "Primary on db1: demote it first"),
    ("never-while-peer-primary-even-forced", "db2",
     {"db2": st(peer_role="Primary")}, True, "refuse", False, "demote it first"),
    ("already-primary", "db1", {"db1": st(role="Primary")}, False, "already", False,
     "already Primary"),
    ("outdated-refused", "db2",
     {"db2": st(disk="Outdated", connection="WFConnection", peer_role="Unknown")}, False,
     "refuse", False, "Outdated, not UpToDate"),
    ("sync-target-refused-with-progress", "db2",
     {"db2": st(disk="Inconsistent", replication="SyncTarget", sync_percent=40.0)}, False,
     "refuse", False, "SyncTarget 40.0%"),
    ("operator-force-on-outdated", "db2",
     {"db2": st(disk="Outdated", connection="WFConnection", peer_role="Unknown")}, True,
     "promote", True, "the operator chose db2"),
    ("operator-force-needs-a-disk", "db2",
     {"db2": st(disk="Diskless", connection="WFConnection", peer_role="Unknown")}, True,
     "refuse", False, "no disk"),
    ("first-creation-forces-first-node", "db1",
     {"db1": st(**FRESH), "db2": st(**FRESH)}, False, "promote", True, "first creation"),
    ("first-creation-not-the-second-node", "db2",
     {"db1": st(**FRESH), "db2": st(**FRESH)}, False, "refuse", False, "Inconsistent"),
    ("inconsistent-with-history-is-not-first-creation", "db1",
     {"db1": st(disk="Inconsistent", peer_disk="Inconsistent", current_uuid=0x1234abcd)},
     False, "refuse", False, "not UpToDate"),
    ("first-creation-needs-the-connection", "db1",
     {"db1": st(connection="WFConnection", peer_role="Unknown", disk="Inconsistent",
                peer_disk="DUnknown", current_uuid=4)}, False, "refuse", False,
     "not UpToDate"),
    ("split-brain-refused-with-recovery", "db2",
     {"db1": st(connection="StandAlone", split_brain=True),
      "db2": st(connection="StandAlone", split_brain=True)}, True, "refuse", False,
     "drbdadm connect --discard-my-data mysql"),
    ("not-a-node", "ctl1", {}, False, "refuse", False, "not a node of DRBD resource"),
    ("no-answer-waits", "db2", {"db1": st()}, False, "wait", False, "did not report"),
    ("resource-down-refused", "db2", {"db2": Status(resource="mysql")}, False, "refuse",
     False, "state.apply drbd"),
]


@pytest.mark.parametrize("target,statuses,force,action,forced,words",
                         [c[1:] for c in PROMOTION], ids=[c[0] for c in PROMOTION])
def test_promotion(target, statuses, force, action, forced, words):
    decision = drbd.promotion("mysql", NODES, target, statuses, force=force)
    assert (decision.action, decision.force) == (action, forced), decision.reason
    assert words in decision.reason


def test_force_is_only_ever_set_by_first_creation_or_the_operator():
    for _, target, statuses, force, *_ in PROMOTION:
        decision = drbd.promotion("mysql", NODES, target, statuses, force=force)
        if decision.force:
            assert force or drbd.first_creation(statuses, NODES)


# (case, survivor status, master still sees the old Primary, expected action, words)
AUTO = [
    ("yes-dead-primary-uptodate-survivor",
     st(connection="WFConnection", peer_role="Unknown", peer_disk="DUnknown"), False,
     "promote", "no longer sees db1"),
    ("no-master-still-sees-old-primary",
     st(connection="WFConnection", peer_role="Unknown", peer_disk="DUnknown"), True,
     "refuse", "still sees db1"),
    ("no-survivor-outdated",
     st(disk="Outdated", connection="WFConnection", peer_role="Unknown"), False,
     "refuse", "Outdated, not UpToDate"),
    ("no-survivor-diskless",
     st(disk="Diskless", connection="WFConnection", peer_role="Unknown"), False,
     "refuse", "Diskless, not UpToDate"),
    ("no-survivor-was-mid-sync",
     st(disk="Inconsistent", connection="WFConnection", peer_role="Unknown"), False,
     "refuse", "Inconsistent"),
    ("no-replication-link-still-up", st(peer_role="Primary"), False, "refuse",
     "still has a replication link"),
    ("no-split-brain", st(connection="StandAlone", peer_role="Unknown", split_brain=True),
     False, "refuse", "split-brain"),
    ("no-survivor-silent", None, False, "refuse", "did not report"),
    ("already-primary", st(role="Primary", connection="WFConnection", peer_role="Unknown"),
     False, "already", "already Primary"),
]


@pytest.mark.parametrize("status,seen,action,words", [c[1:] for c in AUTO],
                         ids=[c[0] for c in AUTO])
def test_auto_promotion(status, seen, action, words):
    decision = drbd.auto_promotion("mysql", "db2", status, "db1", seen)
    assert decision.action == action, decision.reason
    assert words in decision.reason
    assert not decision.force


def test_peer_lost_only_when_a_primary_peer_goes():
    connected = st(peer_role="Primary")
    gone = st(connection="WFConnection", peer_role="Unknown", peer_disk="DUnknown")
    assert drbd.peer_lost(connected, gone)
    assert not drbd.peer_lost(st(peer_role="Secondary"), gone)   # a Secondary left
    assert not drbd.peer_lost(connected, connected)
    assert not drbd.peer_lost(None, gone)


# -- the resource file and the pillar --------------------------------------------------------------

@pytest.fixture
def topo(good):
    return layout.add_drbd(copy.deepcopy(good))


def test_resource_file_84(topo):
    text = drbd.render_resource(topo, "mysql", (8, 4))
    assert "resource mysql {" in text and "protocol C;" in text
    assert "    address 198.18.10.31:7789;" in text and "    address 198.18.10.32:7789;" in text
    assert text.count("device /dev/drbd0 minor 0;") == 2 and "disk /dev/vdb;" in text
    for sb in ("after-sb-0pri disconnect;", "after-sb-1pri disconnect;",
               "after-sb-2pri disconnect;"):
        assert sb in text
    assert 'split-brain "%s";' % drbd.SPLIT_BRAIN_HANDLER in text
    assert "node-id" not in text


def test_resource_file_9_has_node_ids(topo):
    text = drbd.render_resource(topo, "mysql", (9, 2))
    assert "node-id 0;" in text and "node-id 1;" in text


def test_resource_file_net_overrides(topo):
    topo["drbd"]["resources"]["mysql"]["net"] = {"ping-int": 5}
    assert "    ping-int 5;" in drbd.render_resource(topo, "mysql")


def test_mariadb_config_on_the_drbd_filesystem(topo):
    path, text = drbd.service_config(topo["drbd"]["resources"]["mysql"])
    assert path.startswith("/etc/mysql/mariadb.conf.d/")
    assert "datadir = /srv/mysql/mysql" in text and "bind-address = 198.18.10.40" in text


def test_lab_topology_with_drbd_is_valid(topo):
    assert topology.validate(topo) == []


def _res(topo):
    return topo["drbd"]["resources"]["mysql"]


BAD = [
    ("one-node", lambda t: _res(t).update(nodes=["db1"]),
     "hastack:drbd:resources:mysql:nodes", "exactly two"),
    ("unknown-node", lambda t: _res(t).update(nodes=["db1", "db9"]),
     "hastack:drbd:resources:mysql:nodes", "'db9' is not defined"),
    ("no-storage-role", lambda t: _res(t).update(nodes=["db1", "ctl1"]),
     "hastack:drbd:resources:mysql:nodes", "'ctl1' lacks the storage role"),
    ("disk-not-a-device", lambda t: _res(t).update(disk="vdb"),
     "hastack:drbd:resources:mysql:disk", "not a block device"),
    ("device-not-drbd", lambda t: _res(t).update(device="/dev/sdb"),
     "hastack:drbd:resources:mysql:device", "not a DRBD device"),
    ("bad-port", lambda t: _res(t).update(port=70000),
     "hastack:drbd:resources:mysql:port", "not a TCP port"),
    ("relative-mount", lambda t: _res(t).update(mount="srv/mysql"),
     "hastack:drbd:resources:mysql:mount", "not an absolute mount point"),
    ("unknown-fs", lambda t: _res(t).update(fs="zfs"),
     "hastack:drbd:resources:mysql:fs", "'zfs' is not one of ext4, xfs"),
    ("unknown-service", lambda t: _res(t).update(service="postgresql"),
     "hastack:drbd:resources:mysql:service", "'postgresql'"),
    ("address-of-a-node", lambda t: _res(t).update(address="198.18.10.31"),
     "hastack:drbd:resources:mysql:address", "already the address of node db1"),
    ("address-of-a-vip", lambda t: _res(t).update(address="198.18.10.100"),
     "hastack:drbd:resources:mysql:address", "already the address of VIP api"),
    ("address-outside-subnet", lambda t: _res(t).update(address="10.0.0.1"),
     "hastack:drbd:resources:mysql:address", "outside the nodes' subnet"),
    ("unknown-net-option", lambda t: _res(t).update(net={"pingint": 1}),
     "hastack:drbd:resources:mysql:net", "unknown option 'pingint'"),
    ("no-resources", lambda t: t["drbd"].update(resources={}),
     "hastack:drbd:resources", "must map"),
    ("device-twice", lambda t: t["drbd"]["resources"].update(
        other=dict(_res(t), port=7790, mount="/srv/other", address="198.18.10.41")),
     "hastack:drbd:resources:other:device", "already the device of resource mysql"),
]


def _pacemaker(t, change):
    """``t`` with Pacemaker running the resource (the lab's pillar for it), then ``change``."""
    from hastack import cluster
    layout.add_drbd(t, "pacemaker")
    t["secrets"][cluster.AUTHKEY_SECRET] = base64.b64encode(bytes(range(256))).decode()
    change(t)
    return t


BAD += [
    ("unknown-manager", lambda t: _res(t).update(manager="crm"),
     "hastack:drbd:resources:mysql:manager", "'crm' is not hastack or pacemaker"),
    ("pacemaker-without-cluster", lambda t: _pacemaker(t, lambda t: t.pop("cluster")),
     "hastack:drbd:resources:mysql:manager", "needs a hastack:cluster section"),
    ("cluster-managed-by-hastack", lambda t: _pacemaker(
        t, lambda t: t["cluster"].update(manager="hastack")),
     "hastack:drbd:resources:mysql:manager", "hastack:cluster:manager is 'hastack'"),
    ("node-outside-the-cluster", lambda t: _pacemaker(
        t, lambda t: t["cluster"].update(nodes=["db1", "ctl1"])),
     "hastack:drbd:resources:mysql:nodes", "'db2' is not in hastack:cluster:nodes"),
    ("id-taken", lambda t: _pacemaker(t, lambda t: t["cluster"].update(
        resources={"mysql-ip": {"vip": "198.18.10.45"}})),
     "hastack:cluster:resources:mysql-ip", "belongs to DRBD resource mysql's Pacemaker stack"),
]


@pytest.mark.parametrize("mutate,field,words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_validation_names_the_field(topo, mutate, field, words):
    mutate(topo)
    errors = topology.validate(topo)
    assert any(e.startswith(field + ": ") and words in e for e in errors), errors


def test_no_drbd_section_is_fine(good):
    errors = []
    drbd.validate(good, errors)
    assert errors == []


# -- Pacemaker runs the resource (manager: pacemaker) ---------------------------------------------

@pytest.fixture
def pm_topo(good):
    """The lab's DRBD pair as a Corosync/Pacemaker cluster running the mysql stack."""
    return _pacemaker(copy.deepcopy(good), lambda t: None)


def test_the_lab_pacemaker_drbd_topology_is_valid(pm_topo):
    assert topology.validate(pm_topo) == []


def test_pacemaker_stack_is_the_classic_chain(pm_topo):
    stack = drbd.pacemaker_resources(pm_topo)
    assert list(stack["resources"]) == ["mysql-drbd", "mysql-fs", "mysql-ip", "mysql-service"]
    r = stack["resources"]
    assert r["mysql-drbd"]["agent"] == "ocf:linbit:drbd" and r["mysql-drbd"]["promotable"]
    assert r["mysql-drbd"]["params"] == {"drbd_resource": "mysql"}
    assert r["mysql-fs"]["params"] == {"device": "/dev/drbd0", "directory": "/srv/mysql",
                                       "fstype": "ext4", "options": "noatime"}
    assert r["mysql-ip"]["params"] == {"ip": "198.18.10.40", "cidr_netmask": 24}
    assert r["mysql-service"] == {"systemd": "mariadb", "monitor": 5}
    # Each piece where the one below runs, and after it: the address before MariaDB binds it.
    assert stack["constraints"] == [
        {"colocate": ["mysql-fs", "mysql-drbd"]}, {"order": ["mysql-drbd", "mysql-fs"]},
        {"colocate": ["mysql-ip", "mysql-fs"]}, {"order": ["mysql-fs", "mysql-ip"]},
        {"colocate": ["mysql-service", "mysql-ip"]}, {"order": ["mysql-ip", "mysql-service"]}]
    assert stack["placement"] == {"mysql-drbd": ["db1", "db2"]}


def test_a_hastack_managed_resource_has_no_pacemaker_stack(topo):
    assert drbd.pacemaker_resources(topo)["resources"] == {}
    assert drbd.pacemaker_refusal("mysql", _res(topo)) is None


def test_the_cib_follows_the_promotion_and_stays_on_the_drbd_nodes(pm_topo):
    from hastack import cluster
    # A cluster of the controllers and the DRBD pair: the clone avoids the controllers.
    pm_topo["cluster"]["nodes"] = ["ctl1", "ctl2", "db1", "db2"]
    want = cluster.cib_wanted(pm_topo)
    assert want["clones"]["mysql-drbd-clone"]["resource"] == "mysql-drbd"
    assert want["colocations"]["col-mysql-fs-with-mysql-drbd"] == (
        "mysql-fs", "mysql-drbd-clone:Promoted", "INFINITY")
    assert want["orders"]["ord-mysql-drbd-then-mysql-fs"] == (
        "mysql-drbd-clone:promote", "mysql-fs:start", "Mandatory")
    assert want["locations"] == {
        "loc-mysql-drbd-clone-avoids-ctl%d" % i: ("mysql-drbd-clone", "ctl%d" % i, "-INFINITY")
        for i in (1, 2)}
    ops = want["primitives"]["mysql-drbd"]["ops"]
    assert ops[("promote", 0)] == 90000 and ops[("start", 0)] == 240000
    batch = cluster.render_batch(pm_topo)
    assert "primitive mysql-drbd ocf:linbit:drbd params drbd_resource=mysql" in batch
    assert "op promote interval=0s timeout=90s" in batch
    assert "location loc-mysql-drbd-clone-avoids-ctl1 mysql-drbd-clone -inf: ctl1" in batch


def test_pacemaker_resource_file_fences_the_peer_through_the_cib(pm_topo, topo):
    text = drbd.render_resource(pm_topo, "mysql")
    assert "fencing resource-only;" in text
    assert 'fence-peer "/usr/lib/drbd/crm-fence-peer.sh";' in text
    assert 'after-resync-target "/usr/lib/drbd/crm-unfence-peer.sh";' in text
    assert "fencing" not in drbd.render_resource(topo, "mysql")


def test_hastack_keeps_its_hands_off_a_pacemaker_resource(pm_topo):
    from hastack import heal
    assert "mariadb.service" in heal.pacemaker_units(pm_topo)
    words = drbd.pacemaker_refusal("mysql", _res(pm_topo))
    assert "Pacemaker's" in words and "-r mysql-drbd-clone" in words


# -- the Salt adapters -----------------------------------------------------------------------------

def _state(topo, me, status, has_md, tmp_path, test, monkeypatch):
    import functools
    import subprocess as sp

    from test_salt_adapters import load

    calls = []

    def record(name, result=None):
        def fun(*args, **kwargs):
            calls.append(name)
            return result if result is not None else {"result": True, "comment": ""}
        return fun

    salt = {
        "ha_topology.get": lambda: topo,
        "ha_drbd.status": lambda name: dict(status),
        "ha_drbd.config_path": lambda name: str(tmp_path / ("%s.res" % name)),
        "ha_drbd.render_config": lambda name: drbd.render_resource(topo, name),
        "ha_drbd.has_metadata": lambda name: has_md,
        "ha_drbd.create_md": record("create_md"),
        "ha_drbd.up": record("up"),
        "ha_drbd.adjust": record("adjust"),
        "ha_drbd.primary": record("primary"),
    }
    mod = load("_states", "ha_drbd", __salt__=salt, __opts__={"test": test},
               __grains__={"id": me})
    mod.CONNECT_WAIT = 0
    # The real checked-file writer, with `drbdadm dump` (not on this host) accepting the file.
    monkeypatch.setattr(mod.hfiles, "converge", functools.partial(
        mod.hfiles.converge, run=lambda argv, **kw: calls.append("check " + argv[0])
        or sp.CompletedProcess(argv, 0, "", "")))
    return mod, calls


@pytest.mark.parametrize("test", [True, False])
def test_state_new_resource(topo, tmp_path, monkeypatch, test):
    mod, calls = _state(topo, "db2", Status(resource="mysql").as_dict(), False, tmp_path, test,
                        monkeypatch)
    ret = mod.resource("mysql")
    assert set(ret["changes"]) >= {str(tmp_path / "mysql.res"), "metadata", "up"}
    if test:
        assert ret["result"] is None and calls == []
        assert not (tmp_path / "mysql.res").exists()
    else:
        assert ret["result"] is True and calls == ["check drbdadm", "create_md", "up"]
        assert (tmp_path / "mysql.res").read_text() == drbd.render_resource(topo, "mysql")


@pytest.mark.parametrize("test", [True, False])
def test_state_existing_resource_changes_nothing(topo, tmp_path, monkeypatch, test):
    (tmp_path / "mysql.res").write_text(drbd.render_resource(topo, "mysql"))
    (tmp_path / "mysql.res").chmod(0o644)
    mod, calls = _state(topo, "db1", st(role="Primary").as_dict(), True, tmp_path, test,
                        monkeypatch)
    ret = mod.resource("mysql")
    assert ret["result"] is True and ret["changes"] == {} and calls == []


def test_state_first_creation_forces_only_the_first_node(topo, tmp_path, monkeypatch):
    (tmp_path / "mysql.res").write_text(drbd.render_resource(topo, "mysql"))
    (tmp_path / "mysql.res").chmod(0o644)
    fresh = st(**FRESH).as_dict()
    mod, calls = _state(topo, "db1", fresh, True, tmp_path, False, monkeypatch)
    ret = mod.resource("mysql")
    assert calls == ["primary"] and "first creation" in ret["changes"]["primary"]
    mod, calls = _state(topo, "db2", fresh, True, tmp_path, False, monkeypatch)
    assert mod.resource("mysql")["result"] is True and calls == []


def test_state_leaves_bringing_up_a_pacemaker_resource_to_pacemaker(pm_topo, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "mysql.res").write_text(drbd.render_resource(pm_topo, "mysql"))
    (tmp_path / "mysql.res").chmod(0o644)
    mod, calls = _state(pm_topo, "db2", Status(resource="mysql").as_dict(), True, tmp_path,
                        False, monkeypatch)
    ret = mod.resource("mysql")
    assert ret["result"] is True and ret["changes"] == {} and calls == []
    assert "Pacemaker brings it up" in ret["comment"]
    # A fresh resource is still brought up once, for its initial sync.
    mod, calls = _state(pm_topo, "db2", Status(resource="mysql").as_dict(), False, tmp_path,
                        False, monkeypatch)
    assert mod.resource("mysql")["result"] is True and calls == ["create_md", "up"]


def test_state_refuses_a_node_outside_the_resource(topo, tmp_path, monkeypatch):
    mod, calls = _state(topo, "ctl1", st().as_dict(), True, tmp_path, False, monkeypatch)
    ret = mod.resource("mysql")
    assert ret["result"] is False and "hastack:drbd:resources:mysql:nodes" in ret["comment"]


def test_beacon_reports_a_lost_primary_peer(monkeypatch):
    from test_salt_adapters import load

    beacon = load("_beacons", "ha_drbd")
    assert beacon.validate([{"resources": {"mysql": {"minor": 0, "peers": ["db1"]}}}])[0]
    assert not beacon.validate([{"resources": {"mysql": {}}}])[0]
    seq = iter([fixture("proc_drbd_84_primary_uptodate.txt").replace(
                    "ro:Primary/Secondary", "ro:Secondary/Primary"),
                fixture("proc_drbd_84_peer_lost.txt")])
    monkeypatch.setattr(beacon, "_read_status",
                        lambda name, minor: drbd.parse_proc_drbd(next(seq), minor))
    config = [{"resources": {"mysql": {"minor": 0, "peers": ["db1"]}}}]
    assert beacon.beacon(config) == []
    events = beacon.beacon(config)
    assert [e["tag"] for e in events] == ["peer-lost"]
    assert events[0]["resource"] == "mysql" and events[0]["peers"] == ["db1"]


# -- the lab's VMs ---------------------------------------------------------------------------------

def test_vm_command_uses_software_emulation_a_tap_and_both_disks(tmp_path):
    machine = vm.VM(str(tmp_path), "db1", "198.18.10.31", "/checkout/src")
    (tmp_path / "vms" / "db1").mkdir(parents=True)
    (tmp_path / "vms" / "db1" / "machine-id").write_text("ab" * 16)
    argv = machine.command("/cache/vm/abc")
    joined = " ".join(argv)
    assert argv[argv.index("-accel") + 1] == "tcg" and "kvm" not in joined
    assert "ifname=vt-db1,script=no" in joined and "mac=52:54:00:12:0a:1f" in joined
    assert "root.qcow2,if=virtio" in joined and "drbd.img,if=virtio,format=raw" in joined
    assert "systemd.machine_id=" + "ab" * 16 in joined
    assert "path=/checkout/src" in joined and "file:%s" % machine.console in joined


def test_vm_recipe_hash_follows_the_pins(monkeypatch):
    before = vm.recipe_hash()
    monkeypatch.setattr(vm.pins, "RUNTIME", vm.pins.RUNTIME + ["extra==1.0"])
    assert vm.recipe_hash() != before


def test_the_master_knocks_on_every_node_and_the_service_address(good):
    t = layout.add_drbd(copy.deepcopy(good))
    assert drbd.life_probes(t, "mysql") == [
        ("db1", "198.18.10.31", 7789), ("db2", "198.18.10.32", 7789),
        ("service address", "198.18.10.40", 7789)]


def test_a_refusal_names_the_signs_of_life_the_master_found():
    survivor = st(connection="WFConnection", peer_role="Unknown", peer_disk="DUnknown")
    decision = drbd.auto_promotion("mysql", "db2", survivor, "db1", [
        "db1 198.18.10.31:7789 answered TCP (refused)"])
    assert decision.action == "refuse"
    assert decision.reason.startswith("the master still sees db1 (db1 198.18.10.31:7789 "
                                      "answered TCP (refused)): a lost replication link")
    # No sign in the whole window: the other rules decide.
    assert drbd.auto_promotion("mysql", "db2", survivor, "db1", []).action == "promote"


class _Silent:
    """The runner's view of a resource whose old Primary answers pings as told."""
    name = "mysql"

    def __init__(self, pings):
        self.pings, self.looks = list(pings), 0

    def call(self, nodes, fun, **kwargs):
        self.looks += 1
        return {"db1": True} if self.pings.pop(0) else {}


def _runner_with_clock(monkeypatch, knocks):
    from test_salt_adapters import load
    runner = load("_runners", "hastack", __opts__={"id": "master"}, __context__={})
    clock = [0.0]
    monkeypatch.setattr(runner.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(runner.time, "sleep", lambda s: clock.__setitem__(0, clock[0] + s + 5))
    monkeypatch.setattr(runner, "_answers_tcp", lambda addr, port: knocks.get(addr))
    return runner


def test_a_dead_primary_is_silent_for_the_whole_window_before_promotion(topo, monkeypatch):
    runner = _runner_with_clock(monkeypatch, {})
    r, said = _Silent([False] * 10), []
    assert runner._drbd_signs_of_life(r, topo, ["db1"], said.append) == []
    assert r.looks >= 2 and said[-1].startswith("look %d" % r.looks)


def test_one_missed_ping_is_not_death_when_the_kernel_still_answers(topo, monkeypatch):
    # The CI run that promoted a live Primary: its busy minion missed one 5 s ping.
    runner = _runner_with_clock(monkeypatch, {"198.18.10.31": "refused"})
    r = _Silent([False] * 10)
    assert runner._drbd_signs_of_life(r, topo, ["db1"], lambda m: None) == [
        "db1 198.18.10.31:7789 answered TCP (refused)"]
    assert r.looks == 1
    # The survivor (db2) answering is no sign of db1's life; a late ping is.
    runner = _runner_with_clock(monkeypatch, {"198.18.10.32": "accepted"})
    r = _Silent([False, True])
    assert runner._drbd_signs_of_life(r, topo, ["db1"], lambda m: None) == [
        "db1 answered test.ping"]
    assert r.looks == 2


# -- the runner with a resource Pacemaker runs ----------------------------------------------------

def _pm_runner(pm_topo, tmp_path, monkeypatch, answers):
    from test_heal import FakeClient, heal_runner
    client = FakeClient(answers)
    return heal_runner(pm_topo, tmp_path, client, monkeypatch), client


def test_drbd_up_leaves_a_resource_pacemaker_runs_alone(pm_topo, tmp_path, monkeypatch):
    runner, client = _pm_runner(pm_topo, tmp_path, monkeypatch, {
        "service.status": lambda n: n == "db2"})
    out = runner.drbd_up()
    assert out["result"] is True and "Pacemaker runs it (pacemaker active on db2)" in \
        " ".join(out["steps"])
    assert [c[0] for c in client.calls] == ["service.status"]


def test_drbd_up_prepares_a_new_resource_and_leaves_it_passive(pm_topo, tmp_path, monkeypatch):
    fresh = st(**FRESH).as_dict()
    runner, client = _pm_runner(pm_topo, tmp_path, monkeypatch, {
        "service.status": lambda n: False,
        "ha_drbd.status": lambda n: fresh,
        "ha_drbd.prepare": lambda n: {"result": True, "comment": "made ext4; Secondary"}})
    out = runner.drbd_up()
    assert out["result"] is True, out
    assert ("ha_drbd.prepare", ("db1",), ("mysql", True)) in client.calls
    assert not any(c[0] == "ha_drbd.promote" for c in client.calls)


def test_failover_and_autopromote_refuse_a_resource_pacemaker_runs(pm_topo, tmp_path,
                                                                   monkeypatch):
    runner, client = _pm_runner(pm_topo, tmp_path, monkeypatch, {})
    for out in (runner.drbd_failover("mysql", to="db2"),
                runner.drbd_autopromote("mysql", survivor="db2")):
        assert out["result"] is False and "Pacemaker's" in " ".join(out["steps"])
    assert client.calls == []
