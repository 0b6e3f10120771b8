"""
Keystone from the topology pillar: its files, its one-time bootstrap, its catalog.

.. code-block:: yaml

    keystone-venv:
      ha_keystone.installed: []     # the pinned Keystone packages in their own venv
    keystone-config:
      ha_keystone.configured: []    # keystone.conf, Fernet/credential keys, unit, wrapper
    keystone-healthy:
      ha_keystone.healthy: []       # this node answers GET /v3 (waits for it)
    keystone-bootstrap:
      ha_keystone.bootstrapped: []  # once, on one node
    keystone-catalog:
      ha_keystone.catalog: []       # every API's endpoints on its VIP
"""

try:
    from hastack import files as hfiles
    from hastack import keystone, pins, probe, venvs

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_keystone"


def __virtual__():
    if not HAS_HASTACK or "ha_keystone.files" not in __salt__:
        return (False, "The 'ha_keystone' execution module is not available")
    return __virtualname__


def _ret(name):
    return {"name": name, "result": True, "changes": {}, "comment": ""}


def installed(name="keystone"):
    """Keystone's venv holds the pinned packages (``hastack.pins.KEYSTONE``)."""
    return venvs.converge(name, keystone.VENV, pins.KEYSTONE, test=__opts__["test"])


def configured(name="keystone"):
    """keystone.conf, the Fernet and credential keys (readable by the keystone group only),
    the gunicorn wrapper and the systemd unit; a diff for each file that changes. Key
    contents never appear in the changes."""
    ret = hfiles.converge(name, __salt__["ha_keystone.files"](), test=__opts__["test"])
    ret["changes"] = {path: ("(key changed)" if "-keys/" in path else diff)
                      for path, diff in ret["changes"].items()}
    return ret


def healthy(name="keystone", timeout=60):
    """This node's Keystone answers ``GET /v3`` with 200 within ``timeout`` seconds. Changes
    nothing; fails the run (and so the rollout) when it does not."""
    if __opts__["test"]:
        return {"name": name, "result": True, "changes": {},
                "comment": "would check %s" % __salt__["ha_keystone.health"](timeout=1)["url"]}
    res = __salt__["ha_keystone.wait_healthy"](timeout=timeout)
    return probe.healthy_state(name, res, timeout, "keystone")


def bootstrapped(name="keystone"):
    """``keystone-manage bootstrap`` ran: skipped when the admin already gets a token from
    this node, so a second run changes nothing (and never resets the admin's password
    behind a running cloud)."""
    ret = _ret(name)
    local = __salt__["ha_keystone.health"]()["url"]
    if __salt__["ha_keystone.token"](url=local)["ok"]:
        ret["comment"] = "the admin gets a token from %s" % local
        return ret
    ret["changes"] = {"bootstrap": "admin user, project, role; identity endpoints"}
    if __opts__["test"]:
        ret.update(result=None, comment="would run keystone-manage bootstrap")
        return ret
    res = __salt__["ha_keystone.bootstrap"]()
    if not res["result"]:
        ret.update(result=False, changes={},
                   comment="keystone-manage bootstrap failed: %s" % res["comment"])
        return ret
    check = __salt__["ha_keystone.token"](url=local)
    if not check["ok"]:
        ret.update(result=False, comment="bootstrap ran but the admin gets no token from %s: "
                                         "%s" % (local, check["error"]))
        return ret
    ret["comment"] = "bootstrapped; the admin gets a token"
    return ret


def catalog(name="catalog", timeout=60):
    """The catalog names the VIPs: missing services and endpoints are created, an endpoint
    that points elsewhere is put back, duplicates go."""
    ret = _ret(name)
    res = __salt__["ha_keystone.catalog_sync"](test=__opts__["test"], timeout=timeout)
    ret.update(result=res["result"], changes=res["changes"], comment=res["comment"])
    return ret


def service_user(name, password_secret, project="service", role="admin"):
    """The Keystone user an OpenStack service authenticates as, with ``role`` on the
    ``service`` project; its password is ``hastack:secrets:<password_secret>``.

    .. code-block:: yaml

        neutron-keystone-user:
          ha_keystone.service_user:
            - name: neutron
            - password_secret: neutron_service_password
    """
    ret = _ret(name)
    res = __salt__["ha_keystone.service_user"](name, password_secret, project=project,
                                               role=role, test=__opts__["test"])
    ret.update(result=res["result"], changes=res["changes"], comment=res["comment"])
    return ret
