"""
hastack runners: cluster-wide views and actions, run on the master.

``salt-run hastack.validate`` checks the topology pillar before anything is changed;
``orch.deploy`` calls it first and stops on any error. ``salt-run hastack.vips`` says who
holds every VIP, and flags one held twice or by nobody.
"""

import logging
import time

import salt.client
import salt.pillar
import salt.utils.minions

try:
    from hastack import loadbalancer, topology, vip

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

log = logging.getLogger(__name__)

__virtualname__ = "hastack"


def __virtual__():
    if not HAS_HASTACK:
        return (False, "hastack runner: the hastack package is not importable by the master's "
                       "Python; pip install hastack there")
    return __virtualname__


def _pillar(minion=None):
    """The pillar a minion (default: the master's own id) would get, compiled on the master."""
    minion = minion or __opts__["id"]
    id_, grains, _ = salt.utils.minions.get_minion_data(minion, __opts__)
    pillar = salt.pillar.Pillar(__opts__, grains or {"fqdn": minion}, id_ or minion, "base")
    return pillar.compile_pillar()


def validate(minion=None):
    """
    Validate the ``hastack`` topology pillar; every error names its pillar field.

    Returns ``{"result": True/False, "errors": [...]}`` and exits non-zero on errors, so an
    orchestration step that calls it stops the rollout before anything is changed.

    CLI Example:

    .. code-block:: bash

        salt-run hastack.validate
        salt-run hastack.validate minion=ctl1
    """
    pillar = _pillar(minion)
    errors = list(pillar.get("_errors", []))
    errors += topology.validate(pillar.get("hastack"))
    if errors:
        return _fail({"result": False, "errors": errors})
    topo = pillar["hastack"]
    return {"result": True, "errors": [],
            "summary": "%d nodes, %d VIPs, %d services" % (
                len(topo["nodes"]), len(topo.get("vips", {})), len(topo.get("services", {})))}


def _fail(ret):
    # __context__ fails an orchestration step; "retcode" in the return sets the exit code of
    # salt-run (salt/cli/run.py reads it there).
    __context__["retcode"] = 1
    ret["retcode"] = 1
    return ret


def vips(wait=0, minion=None):
    """
    Who holds each VIP, asked live from every load balancer: ``ok`` (one holder),
    ``missing`` (none), ``split-brain`` (several) or ``unknown`` (a possible holder did not
    answer). Exits non-zero unless every VIP is ``ok``; with ``wait=SECONDS`` it asks again
    until they are, or the time is up (a rollout's health gate).

    CLI Example:

    .. code-block:: bash

        salt-run hastack.vips
        salt-run hastack.vips wait=30
    """
    topo = _pillar(minion).get("hastack") or {}
    nodes = loadbalancer.lb_nodes(topo)
    deadline = time.monotonic() + float(wait)
    with salt.client.get_local_client(__opts__["conf_file"]) as client:
        while True:
            answers = client.cmd(nodes, "ha_vip.held", tgt_type="list", timeout=5)
            held = {n: list(a) for n, a in answers.items() if isinstance(a, dict)}
            report = vip.holders_report(topo, held, [n for n in nodes if n not in held])
            if all(r["status"] == "ok" for r in report.values()):
                return {"result": True, "vips": report}
            if time.monotonic() >= deadline:
                return _fail({"result": False, "vips": report})
            time.sleep(1)
