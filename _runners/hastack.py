"""
hastack runners: cluster-wide views and actions, run on the master.

``salt-run hastack.validate`` checks the topology pillar before anything is changed;
``orch.deploy`` calls it first and stops on any error.
"""

import logging

import salt.pillar
import salt.utils.minions

try:
    from hastack import topology

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
        # __context__ fails an orchestration step; "retcode" in the return sets the exit code
        # of salt-run (salt/cli/run.py reads it there).
        __context__["retcode"] = 1
        return {"result": False, "errors": errors, "retcode": 1}
    topo = pillar["hastack"]
    return {"result": True, "errors": [],
            "summary": "%d nodes, %d VIPs, %d services" % (
                len(topo["nodes"]), len(topo.get("vips", {})), len(topo.get("services", {})))}
