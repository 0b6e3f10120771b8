"""
Keystone on this node, and the service catalog, with keystoneauth1.

The config, the plan of the catalog and the diff against it are :mod:`hastack.keystone`;
this module reads this node's health, runs ``keystone-manage`` and talks to the Identity API
(admin credentials from ``hastack:secrets:keystone_admin_password``, always at the URL the
topology names, never at one found in a catalog that may be wrong).
"""

import subprocess
import time

try:
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    from hastack import keystone, pins, probe, venvs

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_keystone"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_keystone: needs keystoneauth1 and the hastack package in the "
                       "minion's Python")
    return __virtualname__


def _topo():
    return __salt__["ha_topology.get"]()


def _admin_session(url, timeout=5):
    topo = _topo()
    auth = v3.Password(auth_url=url, username="admin",
                       password=topo["secrets"]["keystone_admin_password"],
                       project_name="admin", user_domain_id="default",
                       project_domain_id="default")
    return ks_session.Session(auth=auth, timeout=timeout)


def install_missing():
    """
    The pinned Keystone packages (``hastack.pins.KEYSTONE``) that Keystone's venv lacks or
    has at another version; empty when it is complete.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.install_missing
    """
    return venvs.missing(keystone.VENV, pins.KEYSTONE)


def install():
    """
    Create Keystone's venv and install the pinned packages into it (pip, from the
    package index this host's pip is configured for).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.install
    """
    return venvs.install(keystone.VENV, pins.KEYSTONE)


def files():
    """
    Every file hastack manages for Keystone on this node (paths and modes).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.files
    """
    return keystone.files(_topo(), __grains__["id"])


def database_spec():
    """
    Keystone's database name, user and the host pattern it connects from.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.database_spec
    """
    return keystone.database_spec(_topo())


def health(url=None, timeout=2):
    """
    This node's Keystone answers ``GET /v3`` with 200 (its own address, not the VIP):
    ``{"ok", "url", "status", "seconds", "error"}``.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,ctl2,ctl3 ha_keystone.health
    """
    return probe.health(url or keystone.local_url(_topo(), __grains__["id"]), timeout)


def wait_healthy(timeout=60):
    """
    Wait until this node's Keystone answers 200; returns the last :func:`health`.

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_keystone.wait_healthy timeout=30
    """
    return probe.wait_healthy(keystone.local_url(_topo(), __grains__["id"]), timeout)


def token(url=None):
    """
    Issue an admin token (default: through the VIP, the identity endpoint of the topology):
    ``{"ok", "url", "seconds", "error"}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.token
        salt ctl1 ha_keystone.token url=http://198.18.10.11:5000/v3
    """
    url = url or keystone.auth_url(_topo())
    started = time.monotonic()
    out = {"ok": False, "url": url, "error": None}
    try:
        out["ok"] = bool(_admin_session(url).get_token())
    except ks_exc.ClientException as exc:
        out["error"] = str(exc)
    out["seconds"] = round(time.monotonic() - started, 3)
    return out


def bootstrap():
    """
    ``keystone-manage bootstrap``: the admin user, project and role, and the identity
    service with its endpoints on the VIP. Run once on one node (the state
    ``ha_keystone.bootstrapped`` does it only when the admin cannot get a token).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.bootstrap
    """
    res = subprocess.run(keystone.bootstrap_argv(_topo()), capture_output=True, text=True,
                         timeout=300)
    return {"result": res.returncode == 0,
            "comment": (res.stderr or res.stdout).strip()[-2000:]}


def _catalog(sess, url):
    services = sess.get(url + "/services").json()["services"]
    endpoints = sess.get(url + "/endpoints").json()["endpoints"]
    return services, endpoints


def catalog(url=None):
    """
    The catalog as the API holds it: ``{"services": [...], "endpoints": [...]}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.catalog
    """
    url = url or keystone.auth_url(_topo())
    services, endpoints = _catalog(_admin_session(url), url)
    return {"services": services, "endpoints": endpoints}


def catalog_check(url=None):
    """
    Does the catalog match the topology (every API's endpoints on its VIP)?
    ``{"ok", "problems", "error"}``: the problems name each wrong endpoint.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.catalog_check
    """
    topo = _topo()
    url = url or keystone.auth_url(topo)
    try:
        services, endpoints = _catalog(_admin_session(url), url)
    except ks_exc.ClientException as exc:
        return {"ok": False, "problems": [], "error": "%s: %s" % (url, exc)}
    actions, problems = keystone.catalog_diff(
        keystone.catalog_plan(topo), services, endpoints,
        [n["address"] for n in topo["nodes"].values()])
    problems = [keystone.describe(a) for a in actions] + problems
    return {"ok": not problems, "problems": problems, "error": None}


def _apply(sess, url, action, service_ids):
    kind = action["action"]
    if kind == "create_service":
        body = {"service": {"type": action["type"], "name": action["name"],
                            "description": action["description"], "enabled": True}}
        service_ids[action["type"]] = sess.post(url + "/services", json=body).json()[
            "service"]["id"]
    elif kind == "create_endpoint":
        sid = action.get("service_id") or service_ids[action["type"]]
        body = {"endpoint": {"service_id": sid, "interface": action["interface"],
                             "region_id": action["region"], "url": action["url"],
                             "enabled": True}}
        sess.post(url + "/endpoints", json=body)
    elif kind == "update_endpoint":
        body = {"endpoint": {"url": action["url"], "enabled": True}}
        sess.patch(url + "/endpoints/" + action["id"], json=body)
    elif kind == "delete_endpoint":
        sess.delete(url + "/endpoints/" + action["id"])


def catalog_sync(test=False, url=None, timeout=60):
    """
    Put the catalog right: create missing services and endpoints, point every endpoint of
    a managed API at its VIP URL, drop duplicates. Waits up to ``timeout`` seconds for the
    API to answer through the VIP. Returns ``{"result", "changes", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.catalog_sync test=True
        salt ctl1 ha_keystone.catalog_sync
    """
    topo = _topo()
    url = url or keystone.auth_url(topo)
    deadline = time.monotonic() + float(timeout)
    while True:
        try:
            sess = _admin_session(url)
            services, endpoints = _catalog(sess, url)
            break
        except ks_exc.ClientException as exc:
            if time.monotonic() >= deadline:
                return {"result": False, "changes": {},
                        "comment": "the Identity API at %s did not answer: %s" % (url, exc)}
            time.sleep(1)
    actions, problems = keystone.catalog_diff(
        keystone.catalog_plan(topo), services, endpoints,
        [n["address"] for n in topo["nodes"].values()])
    done = [keystone.describe(a) for a in actions]
    if not actions:
        return {"result": True, "changes": {},
                "comment": "catalog matches the topology" +
                           ("; " + "; ".join(problems) if problems else "")}
    if test:
        return {"result": None, "changes": {"catalog": done},
                "comment": "would change: " + "; ".join(done)}
    service_ids = {}
    for action in actions:
        _apply(sess, url, action, service_ids)
    return {"result": True, "changes": {"catalog": done},
            "comment": "changed: " + "; ".join(done)}


def _one(sess, url, path, key, **params):
    found = sess.get(url + path, params=params).json()[key]
    return found[0] if found else None


def service_user(name, password_secret, project="service", role="admin", test=False,
                 url=None):
    """
    The Keystone user an OpenStack service authenticates as (``keystone_authtoken``): the
    project ``service``, the user ``name`` with the password ``hastack:secrets:<password_secret>``
    and the role ``admin`` on that project. A wrong password is reset (found by trying it).
    Returns ``{"result", "changes", "comment"}``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.service_user neutron neutron_service_password test=True
    """
    topo = _topo()
    url = url or keystone.auth_url(topo)
    password = topo["secrets"][password_secret]
    sess = _admin_session(url)
    todo = []
    proj = _one(sess, url, "/projects", "projects", name=project, domain_id="default")
    user = _one(sess, url, "/users", "users", name=name, domain_id="default")
    role_ = _one(sess, url, "/roles", "roles", name=role)
    if role_ is None:
        return {"result": False, "changes": {}, "comment": "Keystone has no role %r" % role}
    if proj is None:
        todo.append("create project %s" % project)
    if user is None:
        todo.append("create user %s" % name)
    else:
        # Unscoped: the password alone, whatever the user's roles.
        auth = v3.Password(auth_url=url, username=name, password=password,
                           user_domain_id="default")
        try:
            ks_session.Session(auth=auth, timeout=5).get_token()
        except ks_exc.Unauthorized:
            todo.append("set the password of user %s" % name)
    granted = proj is not None and user is not None and sess.head(
        "%s/projects/%s/users/%s/roles/%s" % (url, proj["id"], user["id"], role_["id"]),
        raise_exc=False).status_code == 204
    if not granted:
        todo.append("grant %s on project %s to %s" % (role, project, name))
    if not todo or test:
        return {"result": None if todo else True,
                "changes": {"keystone": todo} if todo else {},
                "comment": ("would " + "; ".join(todo)) if todo else
                "user %s has role %s on project %s" % (name, role, project)}
    if proj is None:
        proj = sess.post(url + "/projects", json={"project": {
            "name": project, "domain_id": "default",
            "description": "OpenStack services"}}).json()["project"]
    if user is None:
        user = sess.post(url + "/users", json={"user": {
            "name": name, "domain_id": "default", "password": password,
            "enabled": True}}).json()["user"]
    elif "set the password of user %s" % name in todo:
        sess.patch(url + "/users/" + user["id"], json={"user": {"password": password}})
    sess.put("%s/projects/%s/users/%s/roles/%s" % (url, proj["id"], user["id"], role_["id"]))
    return {"result": True, "changes": {"keystone": todo}, "comment": "; ".join(todo)}
