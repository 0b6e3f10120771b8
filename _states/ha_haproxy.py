"""
haproxy configured from the topology pillar.

.. code-block:: yaml

    haproxy-config:
      ha_haproxy.configured: []

Writes ``/etc/haproxy/haproxy.cfg`` (checked with ``haproxy -c`` first: a config haproxy
refuses never replaces the one in use) and haproxy's systemd drop-in. Pair it with
``service.running`` + ``reload: True`` watching this state.
"""

try:
    from hastack import files as hfiles

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_haproxy"


def __virtual__():
    if not HAS_HASTACK or "ha_haproxy.files" not in __salt__:
        return (False, "The 'ha_haproxy' execution module is not available")
    return __virtualname__


def configured(name="haproxy"):
    """Render haproxy's files for this node and install them if ``haproxy -c`` accepts them."""
    wanted = {}
    for path, (text, mode) in __salt__["ha_haproxy.files"]().items():
        check = ["haproxy", "-c", "-f", "{path}"] if path.endswith(".cfg") else None
        wanted[path] = (text, mode, check)
    ret = hfiles.converge(name, wanted, test=__opts__["test"])
    if ret["result"] and not __opts__["test"] and hfiles.touches_systemd_units(ret["changes"]):
        __salt__["service.systemctl_reload"]()
    return ret
