"""salt-run hastack.status against the lab: green after deploy (every layer, Keystone and its
catalog included), and a network node cut off is named as down, the plane not green and the
exit code non-zero, until it is healed."""

import json

import pytest

from conftest import NODES, hastack

pytestmark = pytest.mark.timeout(600)


def plane(lab, *args):
    """(exit code, report) of ``salt-run hastack.status --out=json``."""
    res = lab.salt_run("hastack.status", "--out=json", *args, timeout=300)
    try:
        report = json.loads(res.stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        raise AssertionError("hastack.status did not print its report as JSON (exit %d)\n%s\n%s"
                             % (res.returncode, res.stdout[-3000:], res.stderr[-3000:]))
    return res.returncode, report


def green(lab):
    code, report = plane(lab)
    return code == 0 and report["green"]


def test_the_deployed_plane_is_green(lab):
    # A health gate, as a rollout would use it: earlier tests may have just healed a fault.
    code, report = plane(lab, "wait=180")
    assert (code, report["green"], report["problems"]) == (0, True, []), report
    assert set(report) >= {"nodes", "vips", "haproxy", "galera", "rabbitmq", "keystone"}
    assert all(node["up"] for node in report["nodes"]["nodes"].values())
    assert set(NODES) <= set(report["nodes"]["nodes"])
    assert {n: v["status"] for n, v in report["vips"]["vips"].items()} == {
        "api": "ok", "api2": "ok", "db": "ok"}
    assert all(v["size"] == 3 and v["state"] == "Synced"
               for v in report["galera"]["nodes"].values())
    assert report["keystone"]["catalog"]["ok"] is True
    text = lab.salt_run("hastack.status", timeout=300)
    assert text.returncode == 0 and text.stdout.startswith("hastack status: GREEN")


def test_a_node_cut_off_is_named_until_it_is_healed(lab):
    hastack("lab", "partition", "net2")
    try:
        code, report = plane(lab)
        assert code != 0 and report["green"] is False and report["retcode"] == 1
        assert report["nodes"]["nodes"]["net2"]["up"] is False
        assert any(p.startswith("node net2 ") and "down" in p for p in report["problems"])
        text = lab.salt_run("hastack.status", timeout=300)
        assert text.returncode != 0
        assert "NOT GREEN" in text.stdout and "node net2 (198.18.10.22) is down" in text.stdout
    finally:
        hastack("lab", "heal", "net2")
    lab.wait_for(lambda: green(lab), timeout=240, what="hastack.status green after heal")
