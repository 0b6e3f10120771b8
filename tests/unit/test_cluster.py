"""Corosync/Pacemaker: corosync.conf and the crm batch from the pillar, the live CIB read
back and compared (so a second run changes nothing), crm_mon and corosync-quorumtool output
as captured in the lab (tests/unit/cluster_output/), validation naming the field, and a
cluster without fencing that says so."""

import base64
import copy
import os

import pytest

from conftest import REPO
from hastack import cluster, secrets, topology
from test_salt_adapters import load

OUT = os.path.join(REPO, "tests", "unit", "cluster_output")
AUTHKEY = base64.b64encode(bytes(range(256))).decode()
# The lab's section (hastack.lab.layout.lab_cluster), which made the captured output.
LAB_CLUSTER = {
    "manager": "hastack", "nodes": ["ctl1", "ctl2", "ctl3"], "token": 1000,
    "token_coefficient": 0, "dc_deadtime": 2, "fencing": "disabled-i-accept-split-brain",
    "resources": {"lab-vip": {"vip": "198.18.10.110", "monitor": 1},
                  "lab-vip-echo": {"systemd": "lab-vip-echo", "monitor": 1}},
    "constraints": [{"colocate": ["lab-vip-echo", "lab-vip"]},
                    {"order": ["lab-vip", "lab-vip-echo"]}],
}


# The lab's section now: Pacemaker's Stateful agent as a promotable clone where DRBD would
# be, the VIP where it is Promoted (cib_promotable.xml, crm_mon_promoted.xml).
LAB_CLUSTER_PROMOTABLE = copy.deepcopy(LAB_CLUSTER)
LAB_CLUSTER_PROMOTABLE["resources"]["lab-stateful"] = {
    "agent": "ocf:pacemaker:Stateful", "promotable": True, "monitor": 1}
LAB_CLUSTER_PROMOTABLE["constraints"] += [{"colocate": ["lab-vip", "lab-stateful"]},
                                          {"order": ["lab-stateful", "lab-vip"]}]


def output(name):
    with open(os.path.join(OUT, name)) as f:
        return f.read()


@pytest.fixture
def topo(good):
    """The example topology with the lab's cluster section (no fencing, a VIP and a unit)."""
    good["cluster"] = copy.deepcopy(LAB_CLUSTER)
    good["secrets"][cluster.AUTHKEY_SECRET] = AUTHKEY
    return good


FENCE = [{"name": "fence-ctl%d" % i, "agent": "fence_ipmilan",
          "params": {"ip": "10.0.0.%d" % i, "username": "admin", "password": "pw-%d" % i},
          "nodes": ["ctl%d" % i]} for i in (1, 2, 3)]


# -- corosync.conf ---------------------------------------------------------------------------

def test_corosync_conf_is_knet_with_the_nodelist_and_stated_token(topo):
    conf = cluster.render_corosync(topo)
    for line in ("transport: knet", "crypto_cipher: aes256", "crypto_hash: sha256",
                 "token: 1000", "token_coefficient: 0", "cluster_name: hastack",
                 "provider: corosync_votequorum"):
        assert "    %s\n" % line in conf, line
    for i in (1, 2, 3):
        assert ("        name: ctl%d\n        nodeid: 1%d\n        ring0_addr: 198.18.10.1%d\n"
                % (i, i, i)) in conf
    assert "net1" not in conf and "two_node" not in conf
    # corosync.conf wants one key per line: no "key: value; key: value" or braces inline.
    assert all(line.count(":") <= 1 for line in conf.splitlines() if not line.lstrip()
               .startswith("#"))
    assert cluster.render_corosync(topo) == conf        # the same text on every member


def test_default_token_is_corosyncs_written_out_with_its_real_value(topo):
    del topo["cluster"]["token"], topo["cluster"]["token_coefficient"]
    conf = cluster.render_corosync(topo)
    assert "token: 3000\n" in conf and "token_coefficient: 650\n" in conf
    assert "3650 ms with 3 nodes" in conf
    assert cluster.effective_token(topo) == 3650


def test_two_members_get_two_node(topo):
    topo["cluster"]["nodes"] = ["ctl1", "ctl2"]
    conf = cluster.render_corosync(topo)
    assert "    two_node: 1\n" in conf and "ctl3" not in conf


def test_members_default_to_the_controllers_and_node_ids_are_stable(topo):
    del topo["cluster"]["nodes"]
    assert cluster.members(topo) == ["ctl1", "ctl2", "ctl3"]
    before = cluster.node_id(topo, "ctl3")
    del topo["nodes"]["ctl2"]
    assert cluster.node_id(topo, "ctl3") == before == 13
    topo["nodes"]["ctl3"]["nodeid"] = 7
    assert cluster.node_id(topo, "ctl3") == 7


def test_files_check_the_config_with_corosync(topo):
    (path, (text, mode, check)), = cluster.files(topo, "ctl1").items()
    assert path == "/etc/corosync/corosync.conf" and mode == 0o644
    assert check == ["corosync", "-t", "-c", "{path}"]
    assert len(cluster.authkey_bytes(topo)) == 256


# -- the crm batch ---------------------------------------------------------------------------

def test_batch_without_fencing_disables_stonith_and_says_why(topo):
    batch = cluster.render_batch(topo)
    lines = batch.splitlines()
    assert lines[1].startswith("# FENCING IS DISABLED (hastack:cluster:fencing: "
                               "disabled-i-accept-split-brain)")
    assert ("property cib-bootstrap-options: cluster-name=hastack dc-deadtime=2s "
            "stonith-enabled=false") in lines
    assert "rsc_defaults rsc-options: resource-stickiness=100" in lines
    assert ("primitive lab-vip ocf:heartbeat:IPaddr2 params cidr_netmask=24 ip=198.18.10.110 "
            "nic=host0 op monitor interval=1s timeout=20s") in lines
    assert ("primitive lab-vip-echo systemd:lab-vip-echo op monitor interval=1s timeout=20s "
            "op start interval=0s timeout=100s op stop interval=0s timeout=100s") in lines
    assert "colocation col-lab-vip-echo-with-lab-vip inf: lab-vip-echo lab-vip" in lines
    assert "order ord-lab-vip-then-lab-vip-echo Mandatory: lab-vip lab-vip-echo" in lines
    # One batch: the constraints come with the resources, never after them.
    assert len([l for l in lines if not l.startswith("#")]) == 6


def test_batch_with_fence_devices(topo):
    topo["cluster"]["fencing"] = copy.deepcopy(FENCE)
    batch = cluster.render_batch(topo)
    assert "FENCING IS DISABLED" not in batch and cluster.fencing_warning(topo) is None
    assert "stonith-enabled=true" in batch
    assert ("primitive fence-ctl2 stonith:fence_ipmilan params ip=10.0.0.2 password=pw-2 "
            "pcmk_host_list=ctl2 username=admin op monitor interval=60s timeout=20s") in batch
    assert "location loc-fence-ctl2-avoids-ctl2 fence-ctl2 -inf: ctl2" in batch


def test_values_with_spaces_are_quoted(topo):
    topo["cluster"]["resources"]["x"] = {"agent": "ocf:heartbeat:Dummy",
                                         "params": {"state": "a b\"c"}}
    assert 'primitive x ocf:heartbeat:Dummy params state="a b\\"c"' in cluster.render_batch(topo)


# -- the live CIB against the pillar ---------------------------------------------------------

def test_the_lab_cib_after_the_batch_matches_the_pillar(topo):
    live = cluster.parse_cib(output("cib_lab.xml"))
    assert cluster.cib_diff(cluster.cib_wanted(topo), live) == ([], [])
    assert live["primitives"]["lab-vip"]["ops"] == {("monitor", 1000): 20000}
    assert live["properties"]["dc-version"].startswith("2.1.5")


def test_a_fresh_cib_needs_everything(topo):
    changes, strangers = cluster.cib_diff(cluster.cib_wanted(topo),
                                          cluster.parse_cib(output("cib_empty.xml")))
    assert changes == [
        "property dc-deadtime: unset -> 2s",
        "property stonith-enabled: unset -> false",
        "resource default resource-stickiness: unset -> 100",
        "resource lab-vip (ocf:heartbeat:IPaddr2): missing",
        "resource lab-vip-echo (systemd:lab-vip-echo): missing",
        "colocation col-lab-vip-echo-with-lab-vip: missing",
        "order ord-lab-vip-then-lab-vip-echo: missing"]
    assert strangers == []


def test_a_changed_pillar_is_one_difference_each(topo):
    live = cluster.parse_cib(output("cib_lab.xml"))
    topo["cluster"]["resources"]["lab-vip"]["vip"] = "198.18.10.111"
    topo["cluster"]["resources"]["lab-vip-echo"]["monitor"] = 2
    topo["cluster"]["dc_deadtime"] = 5
    changes, _ = cluster.cib_diff(cluster.cib_wanted(topo), live)
    assert changes == ["property dc-deadtime: 2s -> 5s",
                       "resource lab-vip: param ip 198.18.10.110 -> 198.18.10.111",
                       "resource lab-vip-echo: op monitor interval=2s missing"]


def test_passwords_are_masked_and_strangers_are_listed(topo):
    topo["cluster"]["fencing"] = copy.deepcopy(FENCE)
    live = cluster.cib_wanted(topo)
    live["primitives"]["fence-ctl1"]["params"]["password"] = "old-secret"
    live["primitives"]["by-hand"] = dict(live["primitives"]["lab-vip"])
    live["orders"]["ord-by-hand"] = ("by-hand", "lab-vip", "Mandatory")
    changes, strangers = cluster.cib_diff(cluster.cib_wanted(topo), live)
    assert changes == ["resource fence-ctl1: param password ******** -> ********"]
    assert strangers == ["by-hand", "ord-by-hand"]


def test_drbd_fence_constraint_is_named_not_just_left_alone():
    fence = "drbd-fence-by-handler-mysql-mysql-drbd-clone"
    note = cluster.strangers_note(["by-hand", fence])
    assert "left alone: by-hand;" in note
    assert "fence-peer constraint %s" % fence in note and "crm-unfence-peer" in note
    assert cluster.strangers_note([]) == ""
    assert "left alone" not in cluster.strangers_note([fence])


@pytest.mark.parametrize("value, ms", [("1s", 1000), ("1000ms", 1000), ("0", 0), ("2min", 120000),
                                       (None, 0), (5, 5000), ("20s", 20000)])
def test_durations(value, ms):
    assert cluster._duration_ms(value) == ms


# -- status from the tools' output -----------------------------------------------------------

def test_crm_mon_with_the_pair_started(topo):
    mon = cluster.parse_crm_mon(output("crm_mon_started.xml"))
    assert mon["quorum"] is True and mon["dc"] == "ctl1" and mon["stonith_enabled"] is False
    assert all(n["online"] for n in mon["nodes"].values()) and len(mon["nodes"]) == 3
    assert mon["resources"]["lab-vip"] == {"agent": "ocf:heartbeat:IPaddr2", "role": "Started",
                                           "active": True, "failed": False, "managed": True,
                                           "nodes": ["ctl1"]}
    assert mon["failcounts"] == {}
    st = cluster.summary(topo, mon, cluster.parse_quorumtool(output("quorumtool_3_quorate.txt")))
    assert st["ok"] is True and st["problems"] == []
    assert st["online"] == ["ctl1", "ctl2", "ctl3"] and st["offline"] == []
    assert st["resources"] == {"lab-vip": {"role": "Started", "nodes": ["ctl1"]},
                               "lab-vip-echo": {"role": "Started", "nodes": ["ctl1"]}}
    assert st["fencing"] is False and st["warning"].startswith("FENCING IS DISABLED")


def test_crm_mon_with_a_fail_count_names_the_cleanup(topo):
    mon = cluster.parse_crm_mon(output("crm_mon_failcount.xml"))
    assert mon["failcounts"] == {"lab-vip-echo": {"ctl1": 1}}
    st = cluster.summary(topo, mon)
    assert st["ok"] is False
    assert ("cluster resource lab-vip-echo has fail count 1 on ctl1 (`salt ctl1 "
            "ha_cluster.cleanup lab-vip-echo node=ctl1` once the cause is fixed)") in st["problems"]


def test_crm_mon_before_the_resources(topo):
    mon = cluster.parse_crm_mon(output("crm_mon_no_resources.xml"))
    assert mon["stonith_enabled"] is True and mon["resources"] == {}
    st = cluster.summary(topo, mon)
    assert "cluster resource lab-vip is not configured" in st["problems"]


def test_a_member_powered_off_as_a_survivor_sees_it(topo):
    mon = cluster.parse_crm_mon(output("crm_mon_ctl3_off.xml"))
    q = cluster.parse_quorumtool(output("quorumtool_ctl3_off.txt"))
    assert q == {"quorate": True, "expected_votes": 3, "total_votes": 2, "quorum": 2,
                 "members": ["ctl1", "ctl2"]}
    st = cluster.summary(topo, mon, q)
    assert st["quorate"] is True and st["online"] == ["ctl1", "ctl2"]
    assert st["offline"] == ["ctl3"] and st["problems"] == ["cluster nodes offline: ctl3"]
    assert st["resources"]["lab-vip-echo"] == {"role": "Started", "nodes": ["ctl1"]}


def test_an_offline_node_and_no_quorum(topo):
    text = output("crm_mon_started.xml").replace('name="ctl3" id="13" online="true"',
                                                 'name="ctl3" id="13" online="false"')
    text = text.replace('with_quorum="true"', 'with_quorum="false"')
    st = cluster.summary(topo, cluster.parse_crm_mon(text))
    assert st["offline"] == ["ctl3"] and st["quorate"] is False
    assert st["problems"][:2] == ["cluster has no quorum", "cluster nodes offline: ctl3"]


def test_quorumtool():
    q = cluster.parse_quorumtool(output("quorumtool_3_quorate.txt"))
    assert q == {"quorate": True, "expected_votes": 3, "total_votes": 3, "quorum": 2,
                 "members": ["ctl1", "ctl2", "ctl3"]}
    assert cluster.parse_quorumtool("Quorate:          No\n")["quorate"] is False


# -- validation ------------------------------------------------------------------------------

def errors_of(topo):
    errors = []
    cluster.validate(topo, errors)
    return errors


def test_the_lab_cluster_is_valid(topo):
    assert topology.validate(topo) == [] and errors_of(topo) == []
    topo["cluster"]["fencing"] = copy.deepcopy(FENCE)
    assert errors_of(topo) == []


def test_topology_validate_runs_the_cluster_checks(topo):
    topo["cluster"]["manager"] = "corosync"
    assert "hastack:cluster:manager: 'corosync' is not hastack or pacemaker" in \
        topology.validate(topo)


def _set(path, value):
    def change(t):
        target = t
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


CASES = [
    (_set(("cluster", "manager"), "corosync"),
     "hastack:cluster:manager: 'corosync' is not hastack or pacemaker"),
    (_set(("cluster", "nodes"), ["ctl1"]), "hastack:cluster:nodes: must list at least two"),
    (_set(("cluster", "nodes"), ["ctl1", "ctl9"]),
     "hastack:cluster:nodes: node 'ctl9' is not defined under hastack:nodes"),
    (_set(("cluster", "token"), "1s"), "hastack:cluster:token: '1s' is not a whole number"),
    (_set(("cluster", "token_coefficient"), -1), "hastack:cluster:token_coefficient: -1"),
    (_set(("cluster", "dc_deadtime"), 0), "hastack:cluster:dc_deadtime: 0 is not"),
    (_set(("cluster", "fencing"), KeyError),
     "hastack:cluster:fencing: missing; list the fence devices"),
    (_set(("cluster", "fencing"), "disabled"),
     "hastack:cluster:fencing: 'disabled' is neither a list of fence devices nor the explicit "
     "opt-out `disabled-i-accept-split-brain`"),
    (_set(("cluster", "fencing"), FENCE[:2]),
     "hastack:cluster:fencing: no fence device fences ctl3; every member needs one"),
    (_set(("cluster", "fencing"), [dict(FENCE[0], agent="ipmi")] + FENCE[1:]),
     "hastack:cluster:fencing:0:agent: 'ipmi' is not a fence agent"),
    (_set(("cluster", "resources", "lab-vip", "vip"), "198.18.10.100"),
     "hastack:cluster:resources:lab-vip:vip: 198.18.10.100 is also VIP api under hastack:vips, "
     "which keepalived moves; a VIP has one manager"),
    (_set(("cluster", "resources", "lab-vip", "vip"), "198.18.10.12"),
     "hastack:cluster:resources:lab-vip:vip: 198.18.10.12 is the address of node ctl2"),
    (_set(("cluster", "resources", "lab-vip", "vip"), "10.0.0.1"),
     "hastack:cluster:resources:lab-vip:vip: 10.0.0.1 is outside the nodes' subnet"),
    (_set(("cluster", "resources", "lab-vip", "systemd"), "x"),
     "hastack:cluster:resources:lab-vip: give exactly one of vip, systemd, agent (found vip, "
     "systemd)"),
    (_set(("cluster", "resources", "lab-vip-echo", "systemd"), "bad unit"),
     "hastack:cluster:resources:lab-vip-echo:systemd: 'bad unit' is not a systemd unit name"),
    (_set(("cluster", "resources", "lab-vip", "monitor"), 0.5),
     "hastack:cluster:resources:lab-vip:monitor: 0.5 is not a whole number of seconds"),
    (_set(("cluster", "resources", "lab-vip", "timeouts"), {"start": 0}),
     "hastack:cluster:resources:lab-vip:timeouts: must map operations"),
    (_set(("cluster", "resources", "lab-vip", "timeouts"), {"restart": 30}),
     "hastack:cluster:resources:lab-vip:timeouts: must map operations"),
    (_set(("cluster", "resources", "lab-vip", "nodes"), ["ctl1", "net1"]),
     "hastack:cluster:resources:lab-vip:nodes: ['ctl1', 'net1'] must list cluster members"),
    (_set(("cluster", "resources", "lab-vip", "nodes"), []),
     "hastack:cluster:resources:lab-vip:nodes: [] must list cluster members"),
    (_set(("cluster", "resources", "1st"), {"systemd": "x"}),
     "hastack:cluster:resources:1st: '1st' is not a Pacemaker id"),
    (_set(("cluster", "constraints"), [{"colocate": ["lab-vip-echo", "nope"]}]),
     "hastack:cluster:constraints:0:colocate: 'nope' is not a resource"),
    (_set(("cluster", "constraints"), [{"before": ["lab-vip", "lab-vip-echo"]}]),
     "hastack:cluster:constraints:0: must be {colocate: [A, B]}"),
    (_set(("secrets", "corosync_authkey"), KeyError),
     "hastack:secrets:corosync_authkey: missing; `hastack secrets --out FILE` generates it"),
    (_set(("secrets", "corosync_authkey"), base64.b64encode(b"x" * 200).decode()),
     "hastack:secrets:corosync_authkey: too repetitive"),
    (_set(("secrets", "corosync_authkey"), "c2hvcnQ="),
     "hastack:secrets:corosync_authkey: 5 bytes; corosync wants 128 to 4096"),
]


@pytest.mark.parametrize("change, message", CASES, ids=[c[1][:60] for c in CASES])
def test_validation_names_the_field(topo, change, message):
    change(topo)
    errors = errors_of(topo)
    assert any(e.startswith(message) for e in errors), errors


def test_a_resource_limited_to_some_members_avoids_the_others(topo):
    topo["cluster"] = copy.deepcopy(LAB_CLUSTER_PROMOTABLE)
    topo["cluster"]["resources"]["lab-vip-echo"]["nodes"] = ["ctl1", "ctl2"]
    topo["cluster"]["resources"]["lab-stateful"]["nodes"] = ["ctl3"]
    assert errors_of(topo) == []
    want = cluster.cib_wanted(topo)
    assert want["locations"] == {
        "loc-lab-vip-echo-avoids-ctl3": ("lab-vip-echo", "ctl3", "-INFINITY"),
        "loc-lab-stateful-clone-avoids-ctl1": ("lab-stateful-clone", "ctl1", "-INFINITY"),
        "loc-lab-stateful-clone-avoids-ctl2": ("lab-stateful-clone", "ctl2", "-INFINITY")}
    # `nodes` is hastack's, not a Pacemaker parameter or meta attribute.
    assert "nodes" not in str(want["primitives"]["lab-vip-echo"])


def test_no_cluster_section_no_cluster_checks(good):
    assert "cluster" not in good and errors_of(good) == [] and topology.validate(good) == []


def test_secrets_generate_a_binary_authkey_once():
    values, added = secrets.complete({})
    assert cluster.AUTHKEY_SECRET in added
    assert cluster.authkey_errors(values[cluster.AUTHKEY_SECRET]) == []
    assert len(base64.b64decode(values[cluster.AUTHKEY_SECRET])) == 256
    again, added = secrets.complete(values)
    assert added == [] and again[cluster.AUTHKEY_SECRET] == values[cluster.AUTHKEY_SECRET]


def test_the_no_fencing_warning_is_loud_and_names_the_field(topo):
    warning = cluster.fencing_warning(topo)
    assert warning.startswith("FENCING IS DISABLED (hastack:cluster:fencing: "
                              "disabled-i-accept-split-brain)")
    assert "split brain" in warning


# -- the Salt state: the batch only when the CIB differs -------------------------------------

def state_with(diffs, test=False, warning="FENCING IS DISABLED ..."):
    calls = []

    def diff():
        calls.append("diff")
        return diffs.pop(0)

    def apply():
        calls.append("apply")
        return {"result": True, "comment": "ok"}

    mod = load("_states", "ha_cluster", __opts__={"test": test},
               __salt__={"ha_cluster.files": None, "ha_cluster.diff": diff,
                         "ha_cluster.apply": apply,
                         "ha_cluster.fencing_warning": lambda: warning})
    return mod, calls


@pytest.mark.parametrize("test", [False, True])
def test_resources_state_does_nothing_when_the_cib_matches(test):
    mod, calls = state_with([{"changes": [], "strangers": ["by-hand"]}], test=test)
    ret = mod.resources()
    assert ret["result"] is True and ret["changes"] == {} and calls == ["diff"]
    assert "left alone: by-hand" in ret["comment"]
    assert ret["warnings"] == ["FENCING IS DISABLED ..."]


def test_resources_state_under_test_says_what_would_change():
    mod, calls = state_with([{"changes": ["resource lab-vip (x): missing"], "strangers": []}],
                            test=True)
    ret = mod.resources()
    assert ret["result"] is None and calls == ["diff"]
    assert ret["changes"] == {"cib": ["resource lab-vip (x): missing"]}


def test_resources_state_applies_once_and_checks(topo):
    mod, calls = state_with([{"changes": ["a"], "strangers": []},
                             {"changes": [], "strangers": []}], warning=None)
    ret = mod.resources()
    assert ret["result"] is True and calls == ["diff", "apply", "diff"]
    assert "warnings" not in ret
    mod, calls = state_with([{"changes": ["a"], "strangers": []},
                             {"changes": ["a"], "strangers": []}])
    assert mod.resources()["result"] is False


def test_modules_decline_without_hastack():
    mod = load("_modules", "ha_cluster")
    mod.HAS_HASTACK = False
    assert mod.__virtual__()[0] is False
    state = load("_states", "ha_cluster", __salt__={})
    assert state.__virtual__() == (False, "The 'ha_cluster' execution module is not available")


def test_the_lab_topology_has_this_section_when_it_has_two_controllers():
    from hastack.lab import layout
    assert layout.make_topology(3, 2)["cluster"] == LAB_CLUSTER_PROMOTABLE
    assert layout.make_topology(2, 1)["cluster"]["nodes"] == ["ctl1", "ctl2"]
    assert "cluster" not in layout.make_topology(1, 0)


def test_the_operators_stop_is_neither_reported_nor_undone(topo):
    live = cluster.cib_wanted(topo)
    live["primitives"]["lab-vip-echo"]["meta"]["target-role"] = "Stopped"
    live["primitives"]["lab-vip"]["params"]["cidr_netmask"] = "25"
    changes, _ = cluster.cib_diff(cluster.cib_wanted(topo), live)
    assert changes == ["resource lab-vip: param cidr_netmask 25 -> 24"]
    keep = cluster.operator_meta(topo, live)
    assert keep == {"lab-vip-echo": {"target-role": "Stopped"}}
    assert ("primitive lab-vip-echo systemd:lab-vip-echo meta target-role=Stopped op monitor"
            in cluster.render_batch(topo, keep))
    # ...unless the pillar itself says it.
    topo["cluster"]["resources"]["lab-vip-echo"]["meta"] = {"target-role": "Started"}
    changes, _ = cluster.cib_diff(cluster.cib_wanted(topo), live)
    assert "resource lab-vip-echo: meta target-role Stopped -> Started" in changes
    assert cluster.operator_meta(topo, live) == {}


# -- promotable clones (DRBD-backed MySQL) ---------------------------------------------------

@pytest.fixture
def promotable(topo):
    topo["cluster"] = copy.deepcopy(LAB_CLUSTER_PROMOTABLE)
    return topo


def test_a_promotable_resource_is_a_clone_and_its_constraints_mean_the_promoted_one(
        promotable):
    lines = cluster.render_batch(promotable).splitlines()
    assert ("primitive lab-stateful ocf:pacemaker:Stateful op monitor interval=1s timeout=20s "
            "role=Promoted op monitor interval=2s timeout=20s role=Unpromoted") in lines
    assert ("clone lab-stateful-clone lab-stateful meta clone-node-max=1 notify=true "
            "promotable=true promoted-max=1 promoted-node-max=1") in lines
    assert ("colocation col-lab-vip-with-lab-stateful inf: lab-vip lab-stateful-clone:Promoted"
            in lines)
    assert ("order ord-lab-stateful-then-lab-vip Mandatory: lab-stateful-clone:promote "
            "lab-vip:start") in lines
    # Constraints between plain resources are as before.
    assert "order ord-lab-vip-then-lab-vip-echo Mandatory: lab-vip lab-vip-echo" in lines
    # The clone comes in the same batch as everything else, after its primitive.
    clone = next(i for i, l in enumerate(lines) if l.startswith("clone "))
    assert clone > next(i for i, l in enumerate(lines) if l.startswith("primitive lab-stateful"))


def test_a_cib_without_the_clone_needs_it(promotable):
    live = cluster.parse_cib(output("cib_lab.xml"))
    changes, strangers = cluster.cib_diff(cluster.cib_wanted(promotable), live)
    assert changes == [
        "resource lab-stateful (ocf:pacemaker:Stateful): missing",
        "clone lab-stateful-clone of lab-stateful: missing",
        "colocation col-lab-vip-with-lab-stateful: missing",
        "order ord-lab-stateful-then-lab-vip: missing"]
    assert strangers == []


def test_the_promoted_role_in_a_cib_reads_back_the_same_under_either_name(promotable):
    """Pacemaker 2.1 stores what the tool wrote: Promoted, or the old Master."""
    want = cluster.cib_wanted(promotable)
    xml = output("cib_lab.xml").replace("</resources>", """
      <clone id="lab-stateful-clone">
        <meta_attributes id="lab-stateful-clone-meta_attributes">
          <nvpair name="clone-node-max" value="1" id="m1"/>
          <nvpair name="notify" value="true" id="m2"/>
          <nvpair name="promotable" value="true" id="m3"/>
          <nvpair name="promoted-max" value="1" id="m4"/>
          <nvpair name="promoted-node-max" value="1" id="m5"/>
        </meta_attributes>
        <primitive id="lab-stateful" class="ocf" provider="pacemaker" type="Stateful">
          <operations>
            <op name="monitor" interval="1s" timeout="20s" role="Master" id="o1"/>
            <op name="monitor" interval="2s" timeout="20s" role="Slave" id="o2"/>
          </operations>
        </primitive>
      </clone>
    </resources>""").replace("</constraints>", """
      <rsc_colocation id="col-lab-vip-with-lab-stateful" score="INFINITY" rsc="lab-vip"
        with-rsc="lab-stateful-clone" with-rsc-role="Master"/>
      <rsc_order id="ord-lab-stateful-then-lab-vip" kind="Mandatory" first="lab-stateful-clone"
        first-action="promote" then="lab-vip" then-action="start"/>
    </constraints>""")
    live = cluster.parse_cib(xml)
    assert cluster.cib_diff(want, live) == ([], [])
    # A monitor in the wrong role, or a clone that may promote two, is a difference.
    bad = xml.replace('role="Slave"', 'role="Master"').replace(
        'name="promoted-max" value="1"', 'name="promoted-max" value="2"')
    changes, _ = cluster.cib_diff(want, cluster.parse_cib(bad))
    assert changes == [
        "resource lab-stateful: op monitor interval=2s role Promoted -> Unpromoted",
        "clone lab-stateful-clone: meta promoted-max 2 -> 1"]


@pytest.mark.parametrize("spec, message", [
    ({"systemd": "x", "promotable": True},
     "hastack:cluster:resources:p: promotable: only an ocf: agent that can promote"),
    ({"agent": "ocf:linbit:drbd", "promotable": "yes"},
     "hastack:cluster:resources:p:promotable: 'yes' is not true or false"),
])
def test_promotable_validation_names_the_field(promotable, spec, message):
    promotable["cluster"]["resources"]["p"] = spec
    errors = errors_of(promotable)
    assert any(e.startswith(message.replace("p: promotable", "p:promotable")) for e in errors), \
        errors


def test_the_lab_cib_with_the_clone_matches_the_pillar(promotable):
    """As crmsh wrote the batch into Pacemaker 2.1.5 in the lab: roles and actions read back
    as rendered, so a second run changes nothing."""
    live = cluster.parse_cib(output("cib_promotable.xml"))
    assert cluster.cib_diff(cluster.cib_wanted(promotable), live) == ([], [])
    assert live["clones"]["lab-stateful-clone"]["resource"] == "lab-stateful"
    assert live["orders"]["ord-lab-stateful-then-lab-vip"] == (
        "lab-stateful-clone:promote", "lab-vip:start", "Mandatory")


def test_crm_mon_with_a_promotable_clone(promotable):
    mon = cluster.parse_crm_mon(output("crm_mon_promoted.xml"))
    res = mon["resources"]["lab-stateful"]
    assert res["role"] == "Promoted" and res["nodes"] == ["ctl2"] and res["active"]
    assert res["instances"] == {"ctl1": "Unpromoted", "ctl2": "Promoted",
                                "ctl3": "Unpromoted"}
    st = cluster.summary(promotable, mon)
    assert st["ok"] is True, st["problems"]
    assert st["resources"]["lab-stateful"]["nodes"] == st["resources"]["lab-vip"]["nodes"]
    # No instance promoted (or two) is a problem the status names.
    for role, problem in (("Unpromoted", "cluster resource lab-stateful is Unpromoted"),
                          ("Promoted", "cluster resource lab-stateful is Promoted on 2 "
                                       "nodes: ctl1, ctl2")):
        text = output("crm_mon_promoted.xml").replace(
            'role="Unpromoted" active="true"', 'role="%s" active="true"' % role, 1)
        if role == "Unpromoted":
            text = text.replace('role="Promoted" active="true"',
                                'role="Unpromoted" active="true"')
        st = cluster.summary(promotable, cluster.parse_crm_mon(text))
        assert problem in st["problems"], st["problems"]
