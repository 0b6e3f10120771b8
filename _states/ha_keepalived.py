"""
keepalived configured from the topology pillar.

.. code-block:: yaml

    keepalived-config:
      ha_keepalived.configured: []

Writes ``/etc/keepalived/keepalived.conf`` (checked with ``keepalived -t`` first: a config
keepalived refuses never replaces the one in use), the VIP release script run after
keepalived stops, the notify script, and keepalived's systemd drop-in. Pair it with
``service.running`` + ``reload: True`` watching this state.
"""

try:
    from hastack import files as hfiles

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_keepalived"


def __virtual__():
    if not HAS_HASTACK or "ha_keepalived.files" not in __salt__:
        return (False, "The 'ha_keepalived' execution module is not available")
    return __virtualname__


def configured(name="keepalived"):
    """Render keepalived's files for this node and install them if ``keepalived -t``
    accepts the config."""
    wanted = {}
    for path, (text, mode) in __salt__["ha_keepalived.files"]().items():
        check = (["keepalived", "-t", "-f", "{path}"] if path.endswith("keepalived.conf")
                 else None)
        wanted[path] = (text, mode, check)
    ret = hfiles.converge(name, wanted, test=__opts__["test"])
    if ret["result"] and not __opts__["test"] and hfiles.touches_systemd_units(ret["changes"]):
        __salt__["service.systemctl_reload"]()
    return ret
