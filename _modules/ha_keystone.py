"""
Keystone on this node, and the service catalog, with keystoneauth1.

The config, the plan of the catalog and the diff against it are :mod:`hastack.keystone`;
this module reads this node's health, runs ``keystone-manage`` and talks to the Identity API
(admin credentials from ``hastack:secrets:keystone_admin_password``, always at the URL the
topology names, never at one found in a catalog that may be wrong).
"""

import json
import os
import subprocess
import time

try:
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    from hastack import keystone, pins

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


def _installed_versions():
    python = os.path.join(keystone.VENV, "bin", "python")
    if not os.path.exists(python):
        return {}
    names = [r.split("==")[0] for r in pins.KEYSTONE]
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for n in sys.argv[1:]:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    res = subprocess.run([python, "-c", code] + names, capture_output=True, text=True,
                         timeout=60)
    return json.loads(res.stdout) if res.returncode == 0 else {}


def install_missing():
    """
    The pinned Keystone packages (``hastack.pins.KEYSTONE``) that Keystone's venv lacks or
    has at another version; empty when it is complete.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.install_missing
    """
    have = {k.lower(): v for k, v in _installed_versions().items()}
    return [r for r in pins.KEYSTONE
            if have.get(r.split("==")[0].lower()) != r.split("==")[1]]


def install():
    """
    Create Keystone's venv and install the pinned packages into it (pip, from the
    package index this host's pip is configured for).

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_keystone.install
    """
    steps = []
    if not os.path.exists(os.path.join(keystone.VENV, "bin", "python")):
        steps.append(["python3", "-m", "venv", keystone.VENV])
    steps.append([os.path.join(keystone.VENV, "bin", "pip"), "install", "-q"] +
                 list(pins.KEYSTONE))
    for argv in steps:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if res.returncode != 0:
            return {"result": False, "comment": "%s failed: %s" % (
                " ".join(argv[:3]), (res.stderr or res.stdout).strip()[-2000:])}
    return {"result": True, "comment": "installed %s" % " ".join(pins.KEYSTONE)}


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
    url = url or keystone.local_url(_topo(), __grains__["id"])
    started = time.monotonic()
    out = {"ok": False, "url": url, "status": None, "error": None}
    try:
        resp = ks_session.Session().get(url, authenticated=False, raise_exc=False,
                                        timeout=timeout)
        out["status"] = resp.status_code
        out["ok"] = resp.status_code == 200
    except ks_exc.ClientException as exc:
        out["error"] = str(exc)
    out["seconds"] = round(time.monotonic() - started, 3)
    return out


def wait_healthy(timeout=60):
    """
    Wait until this node's Keystone answers 200; returns the last :func:`health`.

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_keystone.wait_healthy timeout=30
    """
    deadline = time.monotonic() + float(timeout)
    while True:
        res = health()
        if res["ok"] or time.monotonic() >= deadline:
            return res
        time.sleep(0.5)


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
