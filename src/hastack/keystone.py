"""Keystone, active/active behind the API VIPs, and the service catalog that names the VIPs.

How it is made highly available:

- Keystone is a stateless REST API: every controller in ``hastack:services:keystone:nodes``
  runs it (gunicorn, bound to the node's own address) against one database, Galera reached
  through the database VIP (one writer at a time), and haproxy spreads the API VIPs over them
  with an HTTP check of ``/v3``.
- Tokens are Fernet tokens: any node validates a token another issued, because the Fernet
  and credential keys are generated once (``hastack secrets``) and written identically on
  every controller. Key rotation is not done here (see the README).
- The database is made once (``keystone-manage db_sync`` only when ``--check`` says it is
  behind) and ``keystone-manage bootstrap`` runs once, on the first node, only when the
  admin cannot get a token from it.
- The catalog names the load balancer, never a node: the public, internal and admin
  endpoints of every API in the pillar are ``http://<VIP>:<frontend port><path>`` (a classic
  bug registers the first controller's address; rcbops/chef-cookbooks#730). ``catalog_diff``
  says what must change so the catalog matches that plan; an endpoint pointing elsewhere is
  reported and, in a state run, put back.

Pure: the topology in, config text, plans and diffs out. ``_modules/ha_keystone.py`` talks
to the API with keystoneauth1.
"""

import base64
import binascii
import ipaddress
import os
import urllib.parse

from hastack import galera, loadbalancer

VENV = "/opt/keystone"
CONF_DIR = "/etc/keystone"
CONF = CONF_DIR + "/keystone.conf"
FERNET_DIR = CONF_DIR + "/fernet-keys"
CREDENTIAL_DIR = CONF_DIR + "/credential-keys"
WSGI_DIR = VENV + "/hastack"
WSGI = WSGI_DIR + "/keystone_wsgi.py"
UNIT = "/etc/systemd/system/keystone.service"
USER = "keystone"
MANAGED = loadbalancer.MANAGED

DEFAULTS = {
    "region": "RegionOne",
    "workers": 2,
    "token_expiration": 3600,
    "password_hash_rounds": None,    # Keystone's default (bcrypt, 12 rounds)
    "endpoint_host": None,           # default: the address of the service's first VIP
    "db_name": "keystone",
    "db_user": "keystone",
}
FERNET_KEYS = 3       # 0 staged, 1 secondary, 2 primary
CREDENTIAL_KEYS = 2

# OpenStack APIs hastack knows how to catalog: pillar service name -> (type, name,
# description, path). A service may override any of them under ``catalog``, or set
# ``catalog: false`` to stay out of the catalog.
APIS = {
    "keystone": ("identity", "keystone", "OpenStack Identity", "/v3"),
    "neutron": ("network", "neutron", "OpenStack Networking", ""),
    "nova": ("compute", "nova", "OpenStack Compute", "/v2.1"),
    "placement": ("placement", "placement", "OpenStack Placement", ""),
    "glance": ("image", "glance", "OpenStack Image", ""),
    "cinder": ("volumev3", "cinderv3", "OpenStack Block Storage", "/v3/%(project_id)s"),
}
INTERFACES = ("public", "internal", "admin")

# The gunicorn entry point. Keystone's config library parses sys.argv, which under gunicorn
# holds gunicorn's own options: the workers exit 2 in a loop while the master looks alive.
WSGI_WRAPPER = '''\
# %s
# Keystone parses sys.argv for its own options; under gunicorn it holds gunicorn's.
import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402,F401
''' % MANAGED


def settings(topo):
    """``hastack:services:keystone`` with defaults filled in."""
    out = dict(DEFAULTS)
    out.update(topo["services"]["keystone"])
    return out


def _addr(topo, node):
    return str(topo["nodes"][node]["address"])


def local_url(topo, node):
    """This node's own Keystone API, bypassing the load balancer (health checks)."""
    return "http://%s:%d/v3" % (_addr(topo, node), topo["services"]["keystone"]["port"])


def catalog_entry(topo, name):
    """(type, name, description, path) for service ``name``, or None when not cataloged."""
    svc = topo["services"][name]
    override = svc.get("catalog")
    if override is False or (name not in APIS and not override):
        return None
    base = list(APIS.get(name, (None, name, "", "")))
    for i, key in enumerate(("type", "name", "description", "path")):
        if isinstance(override, dict) and key in override:
            base[i] = override[key]
    return tuple(base)


def endpoint_url(topo, name):
    """The URL every interface of service ``name`` gets: its first VIP, never a node."""
    svc = topo["services"][name]
    entry = catalog_entry(topo, name)
    host = svc.get("endpoint_host") or settings_host(topo)
    if not host:
        host = str(topo["vips"][loadbalancer.service_vips(svc)[0]]["address"])
    return "http://%s:%d%s" % (host, svc.get("frontend_port", svc["port"]), entry[3])


def settings_host(topo):
    """``hastack:services:keystone:endpoint_host`` (a DNS name for every API), if set."""
    return (topo.get("services", {}).get("keystone") or {}).get("endpoint_host")


def auth_url(topo):
    """Where clients (and hastack) authenticate: the identity endpoint on the VIP."""
    return endpoint_url(topo, "keystone")


def catalog_plan(topo):
    """The catalog the topology wants: one entry per cataloged service with a VIP."""
    region = settings(topo)["region"]
    plan = []
    for name in sorted(topo.get("services", {})):
        svc = topo["services"][name]
        entry = catalog_entry(topo, name)
        if entry is None or not loadbalancer.service_vips(svc):
            continue
        url = endpoint_url(topo, name)
        plan.append({"type": entry[0], "name": entry[1], "description": entry[2],
                     "region": region, "urls": {i: url for i in INTERFACES}})
    return plan


def catalog_diff(plan, services, endpoints, node_addresses=()):
    """What must change so the catalog matches ``plan``.

    ``services`` and ``endpoints`` are the API's lists (``/v3/services``, ``/v3/endpoints``).
    Returns ``(actions, problems)``: actions are dicts with an ``action`` of
    ``create_service``, ``create_endpoint``, ``update_endpoint`` or ``delete_endpoint``
    (a second endpoint for the same service, interface and region); problems are sentences
    for what hastack reports but leaves alone (an endpoint of a service hastack does not
    manage that points at a node's own address).
    """
    actions, problems = [], []
    by_type = {}
    for svc in services:
        by_type.setdefault(svc.get("type"), []).append(svc)
    managed_ids = set()
    for want in plan:
        found = [s for s in by_type.get(want["type"], []) if s.get("name") == want["name"]]
        if not found:
            actions.append({"action": "create_service", "type": want["type"],
                            "name": want["name"], "description": want["description"]})
            for interface in INTERFACES:
                actions.append({"action": "create_endpoint", "type": want["type"],
                                "interface": interface, "region": want["region"],
                                "url": want["urls"][interface]})
            continue
        sid = found[0]["id"]
        managed_ids.update(s["id"] for s in found)
        for interface in INTERFACES:
            mine = sorted((e for e in endpoints if e.get("service_id") == sid
                           and e.get("interface") == interface
                           and e.get("region_id", e.get("region")) == want["region"]),
                          key=lambda e: (e.get("url") != want["urls"][interface], e["id"]))
            url = want["urls"][interface]
            if not mine:
                actions.append({"action": "create_endpoint", "type": want["type"],
                                "service_id": sid, "interface": interface,
                                "region": want["region"], "url": url})
                continue
            if mine[0].get("url") != url or mine[0].get("enabled") is False:
                actions.append({"action": "update_endpoint", "type": want["type"],
                                "id": mine[0]["id"], "interface": interface,
                                "old": mine[0].get("url"), "url": url})
            for extra in mine[1:]:
                actions.append({"action": "delete_endpoint", "type": want["type"],
                                "id": extra["id"], "interface": interface,
                                "url": extra.get("url")})
    nodes = {str(a) for a in node_addresses}
    for e in endpoints:
        if e.get("service_id") in managed_ids:
            continue
        host = urllib.parse.urlsplit(e.get("url", "")).hostname
        if host in nodes:
            problems.append("endpoint %s (%s) points at node address %s, not a VIP; hastack "
                            "does not manage that service" % (e["id"], e.get("url"), host))
    return actions, problems


def describe(action):
    """One line for a catalog action (state comments, status, logs)."""
    kind = action["action"]
    if kind == "create_service":
        return "create service %s (%s)" % (action["name"], action["type"])
    if kind == "create_endpoint":
        return "create %s %s endpoint %s" % (action["type"], action["interface"], action["url"])
    if kind == "update_endpoint":
        return "%s %s endpoint %s points at %s, not %s" % (
            action["type"], action["interface"], action["id"], action["old"], action["url"])
    return "delete duplicate %s %s endpoint %s (%s)" % (action["type"], action["interface"],
                                                        action["id"], action["url"])


def db_url(topo):
    """SQLAlchemy URL of Keystone's database, through the database VIP (one writer)."""
    cfg = settings(topo)
    return galera.client_url(topo, cfg["db_user"], topo["secrets"]["keystone_db_password"],
                             cfg["db_name"])


def db_client_host(topo):
    """The MySQL host pattern Keystone connects from: the nodes' subnet (haproxy on any
    load balancer opens the connection), as ``address/netmask``."""
    net = ipaddress.IPv4Network(str(topo["network"]["subnet"]))
    return "%s/%s" % (net.network_address, net.netmask)


def database_spec(topo):
    """Keystone's database: ``{"name", "user", "host"}`` (the grant's host pattern)."""
    cfg = settings(topo)
    return {"name": cfg["db_name"], "user": cfg["db_user"], "host": db_client_host(topo)}


def render_config(topo, node):
    """keystone.conf for ``node``."""
    cfg = settings(topo)
    lines = [
        "# " + MANAGED,
        "[DEFAULT]",
        "# Logs go to the journal (gunicorn's stderr).",
        "use_stderr = true",
        "",
    ] + galera.client_config(topo, db_url(topo)) + [
        "",
        "[token]",
        "provider = fernet",
        "expiration = %d" % cfg["token_expiration"],
        "",
        "[fernet_tokens]",
        "# Identical on every controller (hastack:secrets:keystone_fernet_keys).",
        "key_repository = %s/" % FERNET_DIR,
        "max_active_keys = %d" % FERNET_KEYS,
        "",
        "[credential]",
        "provider = fernet",
        "key_repository = %s/" % CREDENTIAL_DIR,
        "",
        "[identity]",
        "# bcrypt reads 72 bytes at most; longer passwords only log a warning per login.",
        "max_password_length = 72",
    ]
    if cfg.get("password_hash_rounds"):
        lines.append("password_hash_rounds = %d" % cfg["password_hash_rounds"])
    lines += [
        "",
        "[oslo_middleware]",
        "# Behind haproxy: build URLs from X-Forwarded-* headers.",
        "enable_proxy_headers_parsing = true",
        "",
    ]
    return "\n".join(lines)


def render_unit(topo, node):
    """The systemd unit: gunicorn on the node's own address, restarted when it dies."""
    cfg = settings(topo)
    return "\n".join([
        "# " + MANAGED,
        "[Unit]",
        "Description=OpenStack Identity (Keystone) under gunicorn, hastack",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "User=%s" % USER,
        "Group=%s" % USER,
        "Environment=OS_KEYSTONE_CONFIG_FILES=%s" % CONF,
        "ExecStart=%s/bin/gunicorn --no-control-socket --bind %s:%d --workers %d "
        "--timeout 120 --graceful-timeout 10 --pythonpath %s keystone_wsgi:application"
        % (VENV, _addr(topo, node), topo["services"]["keystone"]["port"], cfg["workers"],
           WSGI_DIR),
        "Restart=always",
        "RestartSec=1",
        "KillMode=mixed",
        "TimeoutStopSec=15",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def _key_files(directory, keys):
    return {"%s/%d" % (directory, i): key for i, key in enumerate(keys)}


def files(topo, node):
    """Every file Keystone needs on ``node``: ``{path: (text, mode, check, group)}``."""
    secrets = topo["secrets"]
    out = {
        CONF: (render_config(topo, node), 0o640, None, USER),
        WSGI: (WSGI_WRAPPER, 0o644, None, None),
        UNIT: (render_unit(topo, node), 0o644, None, None),
    }
    for directory, key in ((FERNET_DIR, "keystone_fernet_keys"),
                           (CREDENTIAL_DIR, "keystone_credential_keys")):
        for path, value in _key_files(directory, secrets[key]).items():
            out[path] = (value + "\n", 0o640, None, USER)
    return out


def bootstrap_argv(topo):
    """``keystone-manage bootstrap`` with the admin and the identity endpoints on the VIP."""
    url = auth_url(topo)
    return ["%s/bin/keystone-manage" % VENV, "bootstrap",
            "--bootstrap-password", topo["secrets"]["keystone_admin_password"],
            "--bootstrap-username", "admin",
            "--bootstrap-project-name", "admin",
            "--bootstrap-role-name", "admin",
            "--bootstrap-service-name", "keystone",
            "--bootstrap-region-id", settings(topo)["region"],
            "--bootstrap-admin-url", url,
            "--bootstrap-internal-url", url,
            "--bootstrap-public-url", url]


def new_fernet_key():
    """A Fernet key: 32 random bytes, URL-safe base64 (what ``keystone-manage
    fernet_setup`` writes)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def fernet_key_ok(value):
    if not isinstance(value, str):
        return False
    try:
        return len(base64.urlsafe_b64decode(value.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def key_errors(name, value, count):
    """Errors for a list of Fernet keys in ``hastack:secrets:<name>``."""
    field = "hastack:secrets:%s" % name
    if not isinstance(value, list) or len(value) != count:
        return ["%s: must be a list of %d Fernet keys; `hastack secrets` generates them"
                % (field, count)]
    bad = [str(i) for i, v in enumerate(value) if not fernet_key_ok(v)]
    if bad:
        return ["%s: entries %s are not Fernet keys (32 bytes, URL-safe base64)"
                % (field, ", ".join(bad))]
    if len(set(value)) != len(value):
        return ["%s: the keys must differ" % field]
    return []


def validate(topo, errors):
    """Check ``hastack:services:keystone`` (called by :func:`hastack.topology.validate`)."""
    services = topo.get("services") or {}
    svc = services.get("keystone")
    if not isinstance(svc, dict):
        return
    field = "hastack:services:keystone"
    if not loadbalancer.service_vips(svc):
        errors.append("%s:vip: Keystone needs a VIP: the catalog and every client use it"
                      % field)
    galera = services.get("galera")
    if not isinstance(galera, dict) or not loadbalancer.service_vips(galera):
        errors.append("%s: Keystone keeps its data in Galera through the database VIP; "
                      "define hastack:services:galera with a vip" % field)
    cfg = dict(DEFAULTS, **svc)
    workers = cfg["workers"]
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        errors.append("%s:workers: %r is not a number of gunicorn workers (1-64)"
                      % (field, workers))
    rounds = cfg["password_hash_rounds"]
    if rounds is not None and (not isinstance(rounds, int) or isinstance(rounds, bool)
                               or not 4 <= rounds <= 31):
        errors.append("%s:password_hash_rounds: %r is not a bcrypt cost (4-31)"
                      % (field, rounds))
    if not isinstance(cfg["region"], str) or not cfg["region"]:
        errors.append("%s:region: %r is not a region name" % (field, cfg["region"]))
    exp = cfg["token_expiration"]
    if not isinstance(exp, int) or isinstance(exp, bool) or exp < 60:
        errors.append("%s:token_expiration: %r is not a number of seconds (60 or more)"
                      % (field, exp))
    for name, other in sorted(services.items()):
        if not isinstance(other, dict) or "catalog" not in other:
            continue
        cat = other["catalog"]
        if cat is not False and not (isinstance(cat, dict) and
                                     set(cat) <= {"type", "name", "description", "path"}):
            errors.append("hastack:services:%s:catalog: must be false or a mapping of type, "
                          "name, description, path" % name)
    secrets = topo.get("secrets")
    if isinstance(secrets, dict):
        errors.extend(key_errors("keystone_fernet_keys", secrets.get("keystone_fernet_keys"),
                                 FERNET_KEYS))
        errors.extend(key_errors("keystone_credential_keys",
                                 secrets.get("keystone_credential_keys"), CREDENTIAL_KEYS))
