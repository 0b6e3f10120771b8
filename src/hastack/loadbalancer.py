"""The load-balancing layer: haproxy in front of every API, keepalived (VRRP) moving the VIPs.

How a VIP moves, and why it is fast:

- Each VIP is one VRRP instance (VRRPv3, unicast to the other load balancers), its node list
  in the pillar being the order of preference: the first node gets the highest priority.
  Adverts every ``advert_int`` seconds (0.05 by default): a holder that dies is replaced after
  about three adverts.
- keepalived learns that haproxy died without polling: haproxy's systemd unit writes 0 to a
  state file when it has started and 1 when it has stopped, for whatever reason (a crash or
  kill -9 included), and keepalived's ``track_file`` sees the change by inotify and drops the
  VIP at once. ``vrrp_script`` (polling at 1 s at best, the classic setup and the slow
  baseline) stays available as ``haproxy_check: vrrp_script`` for comparison.
- A keepalived that dies hard would leave its VIPs on the interface while a backup takes them
  over: two holders. keepalived's unit runs a release script after it stops, for whatever
  reason, that removes this node's VIPs; systemd then restarts keepalived.
- haproxy retries a failed connection on another backend (``retries`` + ``option redispatch``)
  and retries idempotent requests (GET, HEAD) on an empty or failed response (``retry-on``),
  so a backend that dies costs no GET request. Checks run every 200 ms.

Everything here is pure: the topology in, text out. ``_modules/ha_haproxy.py`` and
``_modules/ha_keepalived.py`` hand it to Salt.
"""

from hastack import topology

MANAGED = "Managed by hastack from the hastack pillar; local changes are overwritten."

DEFAULTS = {
    "advert_int": 0.05,
    "vrrp_version": 3,
    "haproxy_check": "track_file",
    "preempt_delay": 5,
    "stats_port": 1936,
    "check_interval_ms": 200,
}
HAPROXY_CHECKS = ("track_file", "vrrp_script")

HAPROXY_STATE_FILE = "/run/hastack/haproxy.state"
RELEASE_SCRIPT = "/usr/local/sbin/hastack-release-vips"
NOTIFY_SCRIPT = "/usr/local/sbin/hastack-vip-notify"
HAPROXY_SOCKET = "/run/haproxy/admin.sock"
KEEPALIVED_CONF = "/etc/keepalived/keepalived.conf"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
KEEPALIVED_DROPIN = "/etc/systemd/system/keepalived.service.d/hastack.conf"
HAPROXY_DROPIN = "/etc/systemd/system/haproxy.service.d/hastack.conf"

TOP_PRIORITY = 200
PRIORITY_STEP = 10


def settings(topo):
    """The ``hastack:loadbalancer`` settings with defaults filled in."""
    out = dict(DEFAULTS)
    out.update(topo.get("loadbalancer") or {})
    out.setdefault("nodes", lb_nodes(topo))
    return out


def lb_nodes(topo):
    """Load-balancer nodes: ``loadbalancer:nodes``, else nodes with the loadbalancer role,
    else the controllers."""
    given = (topo.get("loadbalancer") or {}).get("nodes")
    if given:
        return list(given)
    return (topology.nodes_with_role(topo, "loadbalancer")
            or topology.nodes_with_role(topo, "controller"))


def service_vips(svc):
    """A service's VIP names: ``vip`` may be one name or a list (DNS round-robin)."""
    vip = svc.get("vip")
    if vip is None:
        return []
    return list(vip) if isinstance(vip, list) else [vip]


def _addr(topo, node):
    return str(topo["nodes"][node]["address"])


def vrrp_instances(topo, node):
    """The VRRP instances ``node`` takes part in, as data, in VIP name order."""
    out = []
    for name in sorted(topo.get("vips", {})):
        vip = topo["vips"][name]
        members = list(vip["nodes"])
        if node not in members:
            continue
        rank = members.index(node)
        out.append({
            "name": name,
            "address": str(vip["address"]),
            "router_id": vip["router_id"],
            "priority": max(1, TOP_PRIORITY - PRIORITY_STEP * rank),
            "src": _addr(topo, node),
            "peers": [_addr(topo, n) for n in members if n != node],
        })
    return out


def _fmt_interval(value):
    return ("%g" % value)


def render_keepalived(topo, node):
    """keepalived.conf for ``node``."""
    lb = settings(topo)
    iface = topo.get("network", {}).get("interface", "eth0")
    lines = ["! " + MANAGED, "global_defs {", "    router_id %s" % node,
             "    vrrp_version %d" % lb["vrrp_version"], "    enable_script_security",
             "    script_user root", "}", ""]
    if lb["haproxy_check"] == "track_file":
        lines += ["# haproxy's unit writes 0 here once started and 1 once stopped (any reason);",
                  "# keepalived reads it by inotify: no polling delay.",
                  "track_file haproxy {", '    file "%s"' % HAPROXY_STATE_FILE,
                  "    weight 0", "    init_file 1", "}", ""]
        track = ["    track_file {", "        haproxy", "    }"]
    else:
        lines += ["# Polls every second: the classic, slow way (kept as a baseline).",
                  "vrrp_script haproxy {", '    script "/usr/bin/pgrep -x haproxy"',
                  "    interval 1", "    fall 1", "    rise 1", "    weight 0", "}", ""]
        track = ["    track_script {", "        haproxy", "    }"]
    for inst in vrrp_instances(topo, node):
        lines += ["vrrp_instance %s {" % inst["name"], "    state BACKUP",
                  "    interface %s" % iface,
                  "    virtual_router_id %d" % inst["router_id"],
                  "    priority %d" % inst["priority"],
                  "    advert_int %s" % _fmt_interval(lb["advert_int"]),
                  "    preempt_delay %d" % lb["preempt_delay"],
                  "    unicast_src_ip %s" % inst["src"], "    unicast_peer {"]
        lines += ["        %s" % peer for peer in inst["peers"]]
        lines += ["    }", "    virtual_ipaddress {",
                  "        %s/32 dev %s" % (inst["address"], iface), "    }"]
        lines += track
        lines += ['    notify "%s"' % NOTIFY_SCRIPT, "}", ""]
    return "\n".join(lines)


# A connection a local client (an API's database pool) opened to a VIP this node held has the
# VIP as its source address too. Once the VIP leaves, nothing answers that connection and no
# reset ever comes: the next query on it hangs until the client's own timeout (gunicorn's
# 120 s). Cut such connections as the VIP goes, so clients fail at once and reconnect to the
# new holder. (``ss -K`` is iproute2's socket destroy; the kernel needs INET_DIAG_DESTROY,
# which Debian's kernels have.)
def _cut_connections(address):
    return "ss -K -t src %s >/dev/null 2>&1 || true" % address


def render_release_script(topo, node):
    """Run after keepalived stops for any reason: drop this node's VIPs from the link and
    cut the connections that used them."""
    iface = topo.get("network", {}).get("interface", "eth0")
    lines = ["#!/bin/sh", "# " + MANAGED,
             "# keepalived is gone: a VIP left here would be held twice once a backup takes it.",
             ]
    for inst in vrrp_instances(topo, node):
        lines.append("ip -4 addr del %s/32 dev %s 2>/dev/null || true" % (inst["address"], iface))
        lines.append(_cut_connections(inst["address"]))
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def render_notify_script(topo, node):
    """keepalived notify: on leaving MASTER, cut the connections that used the VIP.

    It reports nothing itself: the ``ha_health`` beacon tells the master which VIPs a node
    took or lost, once a second, from a process that is already running. A ``salt-call`` per
    transition (a Python process of 50 MB that takes seconds to start) is a fork bomb when
    VRRP flaps on a loaded node: each one slows keepalived more, which flaps more; one lab
    run ran out of memory that way."""
    lines = [
        "#!/bin/sh",
        "# " + MANAGED,
        "# keepalived calls: $1=INSTANCE $2=<vip name> $3=MASTER|BACKUP|FAULT|STOP $4=priority",
        "# Keep it cheap: VRRP may flap many times a second. The ha_health beacon reports",
        "# VIP changes to the master.",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "[ \"$3\" = MASTER ] && exit 0",
        "case \"$2\" in",
    ]
    for inst in vrrp_instances(topo, node):
        lines.append("    %s) %s ;;" % (inst["name"], _cut_connections(inst["address"])))
    lines += ["esac", "exit 0"]
    return "\n".join(lines) + "\n"


def render_keepalived_dropin():
    state_dir = HAPROXY_STATE_FILE.rsplit("/", 1)[0]
    return "\n".join([
        "# " + MANAGED,
        "# keepalived drops a track_file whose directory is missing when it starts, and then",
        "# never sees haproxy die: after a reboot /run is empty and keepalived may start before",
        "# haproxy. Write haproxy's state (as systemd knows it) before keepalived starts.",
        "[Service]",
        "ExecStartPre=/bin/sh -c 'mkdir -p %s && if systemctl -q is-active haproxy; "
        "then echo 0; else echo 1; fi > %s'" % (state_dir, HAPROXY_STATE_FILE),
        "ExecStopPost=%s" % RELEASE_SCRIPT,
        "Restart=always",
        "RestartSec=1",
    ]) + "\n"


def render_haproxy_dropin():
    state_dir = HAPROXY_STATE_FILE.rsplit("/", 1)[0]
    return "\n".join([
        "# " + MANAGED,
        "# keepalived tracks this file (track_file): 0 = haproxy up, 1 = down.",
        "# A dead haproxy comes back after 2 s, not Debian's 100 ms: keepalived must read the",
        "# 1 and move the VIPs before a restart writes 0 again (a race it could lose), and the",
        "# node returns as a backup that takes its VIPs back after preempt_delay.",
        "[Service]",
        "RestartSec=2",
        "ExecStartPost=/bin/sh -c 'mkdir -p %s && echo 0 > %s'" % (state_dir, HAPROXY_STATE_FILE),
        "ExecStopPost=/bin/sh -c 'mkdir -p %s && echo 1 > %s'" % (state_dir, HAPROXY_STATE_FILE),
    ]) + "\n"


def _http_retry_lines(svc):
    # A connection that failed never reached the server: retrying it is safe for any method.
    # A response that failed may have been acted on: retry only GET and HEAD (METH_GET), and
    # the paths the service declares safe to repeat (``retry_paths``: Keystone's
    # POST /v3/auth/tokens issues a Fernet token and stores nothing).
    # A 500 is retried too: an API whose pooled database connection broke in a Galera writer
    # failover answers 500 (oslo.db does not replay a query), and another server, or the
    # same one with a fresh connection, answers.
    safe = "METH_GET"
    paths = svc.get("retry_paths") or []
    if paths:
        safe += " || { path %s }" % " ".join(paths)
    return ["    retry-on conn-failure empty-response response-timeout 500 502 503 504",
            "    http-request disable-l7-retry unless %s" % safe]


def render_haproxy(topo, node):
    """haproxy.cfg for load balancer ``node``: a frontend per service on its VIPs."""
    lb = settings(topo)
    inter = "%dms" % lb["check_interval_ms"]
    secrets = topo.get("secrets", {})
    lines = [
        "# " + MANAGED,
        "global",
        "    log /dev/log local0 notice",
        "    chroot /var/lib/haproxy",
        "    maxconn 8192",
        "    user haproxy",
        "    group haproxy",
        "    master-worker",
        "    # Admin socket for root only; expose-fd lets a reload hand the listeners over.",
        "    stats socket %s mode 600 level admin expose-fd listeners" % HAPROXY_SOCKET,
        "    stats timeout 30s",
        "",
        "defaults",
        "    log global",
        "    mode http",
        "    option httplog",
        "    option dontlognull",
        "    # Backends are on the same network: a connect that takes longer is to a dead",
        "    # node, and is better retried on another server at once.",
        "    timeout connect 250ms",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout check 500ms",
        "    retries 3",
        "    option redispatch 1",
        "    default-server inter %s fastinter %s downinter 1s fall 2 rise 2" % (inter, inter),
        "",
        "listen stats",
        "    bind %s:%d" % (_addr(topo, node), lb["stats_port"]),
        "    stats enable",
        "    stats uri /",
        "    stats refresh 5s",
        "    stats auth admin:%s" % secrets.get("haproxy_stats_password", ""),
        "",
    ]
    vips = topo.get("vips", {})
    for name in sorted(topo.get("services", {})):
        svc = topo["services"][name]
        names = service_vips(svc)
        if not names:
            continue
        mode = svc.get("mode", "http")
        fport = svc.get("frontend_port", svc["port"])
        check = svc.get("check") or {}
        lines += ["frontend %s" % name]
        if mode == "tcp":
            lines += ["    mode tcp", "    option tcplog", "    timeout client 8h"]
        lines += ["    bind %s:%d" % (vips[v]["address"], fport) for v in names]
        lines += ["    default_backend %s" % name, "", "backend %s" % name]
        if mode == "tcp":
            lines += ["    mode tcp", "    timeout server 8h"]
        else:
            lines += ["    balance roundrobin"]
            lines += _http_retry_lines(svc)
        if check.get("path"):
            lines += ["    option httpchk GET %s" % check["path"],
                      "    http-check expect status %d" % check.get("expect", 200)]
        check_port = " port %d" % check["port"] if check.get("port") else ""
        for i, member in enumerate(svc["nodes"]):
            extra = ""
            if svc.get("single_writer"):
                # One active server, the others backups in pillar order: no multi-writer
                # conflicts; sessions on a server marked down are cut so clients reconnect.
                extra = " on-marked-down shutdown-sessions" + (" backup" if i else "")
            lines.append("    server %s %s:%d check%s%s" % (member, _addr(topo, member),
                                                          svc["port"], check_port, extra))
        lines.append("")
    return "\n".join(lines)


def files(topo, node):
    """Every file the layer manages on ``node``: ``{path: (text, mode)}``."""
    return {
        HAPROXY_CFG: (render_haproxy(topo, node), 0o640),
        HAPROXY_DROPIN: (render_haproxy_dropin(), 0o644),
        KEEPALIVED_CONF: (render_keepalived(topo, node), 0o640),
        KEEPALIVED_DROPIN: (render_keepalived_dropin(), 0o644),
        RELEASE_SCRIPT: (render_release_script(topo, node), 0o755),
        NOTIFY_SCRIPT: (render_notify_script(topo, node), 0o755),
    }


def dns_records(topo, domain):
    """The DNS round-robin record sets a service group with several VIPs needs:
    ``{fqdn: [addresses]}``, one A record per VIP."""
    out = {}
    for name, svc in sorted(topo.get("services", {}).items()):
        names = service_vips(svc)
        if len(names) > 1:
            out["%s.%s" % (name, domain)] = [str(topo["vips"][v]["address"]) for v in names]
    return out


def parse_stat_csv(text):
    """haproxy ``show stat`` CSV -> ``{backend: {server: status}}`` (servers only)."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        return {}
    header = lines[0][2:].split(",")
    out = {}
    for line in lines[1:]:
        if not line.strip():
            continue
        row = dict(zip(header, line.split(",")))
        if row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        out.setdefault(row["pxname"], {})[row["svname"]] = row.get("status", "")
    return out


def validate(topo, errors):
    """Check ``hastack:loadbalancer`` and the services' frontend settings (called by
    :func:`hastack.topology.validate`)."""
    lb = topo.get("loadbalancer", {})
    path = "hastack:loadbalancer"
    if not isinstance(lb, dict):
        errors.append("%s: must be a mapping" % path)
        return
    nodes = topo.get("nodes") or {}
    given = lb.get("nodes")
    if given is not None:
        if not isinstance(given, list) or not given:
            errors.append("%s:nodes: must be a non-empty list of node names" % path)
            given = []
        for name in given:
            if name not in nodes:
                errors.append("%s:nodes: node %r is not defined under hastack:nodes"
                              % (path, name))
    merged = dict(DEFAULTS, **lb)
    version = merged["vrrp_version"]
    if version not in (2, 3):
        errors.append("%s:vrrp_version: %r is not 2 or 3" % (path, version))
    advert = merged["advert_int"]
    if not isinstance(advert, (int, float)) or isinstance(advert, bool) or \
            not 0.01 <= advert <= 255:
        errors.append("%s:advert_int: %r is not a number of seconds from 0.01 to 255"
                      % (path, advert))
    elif version == 2 and advert != int(advert):
        errors.append("%s:advert_int: VRRPv2 adverts are whole seconds; %g needs "
                      "vrrp_version: 3" % (path, advert))
    if merged["haproxy_check"] not in HAPROXY_CHECKS:
        errors.append("%s:haproxy_check: %r is not one of %s"
                      % (path, merged["haproxy_check"], ", ".join(HAPROXY_CHECKS)))
    delay = merged["preempt_delay"]
    if not isinstance(delay, int) or isinstance(delay, bool) or not 0 <= delay <= 1000:
        errors.append("%s:preempt_delay: %r is not a number of seconds (0-1000)" % (path, delay))
    if given is not None or nodes:
        holders = set(lb_nodes(topo))
        for vname, vip in (topo.get("vips") or {}).items():
            for name in (vip.get("nodes") or []) if isinstance(vip, dict) else []:
                if name in nodes and name not in holders:
                    errors.append("hastack:vips:%s:nodes: node %s is not a load balancer "
                                  "(hastack:loadbalancer:nodes), so it cannot hold the VIP"
                                  % (vname, name))
    for sname, svc in (topo.get("services") or {}).items():
        if not isinstance(svc, dict):
            continue
        field = "hastack:services:%s" % sname
        mode = svc.get("mode", "http")
        if mode not in ("http", "tcp"):
            errors.append("%s:mode: %r is not http or tcp" % (field, mode))
        check = svc.get("check")
        if check is None:
            continue
        if not isinstance(check, dict):
            errors.append("%s:check: must be a mapping (path, expect, port)" % field)
            continue
        if "path" in check and not (isinstance(check["path"], str)
                                    and check["path"].startswith("/")):
            errors.append("%s:check:path: %r must start with /" % (field, check["path"]))
        expect = check.get("expect", 200)
        if not isinstance(expect, int) or isinstance(expect, bool) or not 100 <= expect <= 599:
            errors.append("%s:check:expect: %r is not an HTTP status" % (field, expect))
        port = check.get("port")
        if port is not None and (not isinstance(port, int) or isinstance(port, bool)
                                 or not 1 <= port <= 65535):
            errors.append("%s:check:port: %r is not a TCP port (1-65535)" % (field, port))
    for sname, svc in (topo.get("services") or {}).items():
        paths = svc.get("retry_paths") if isinstance(svc, dict) else None
        if paths is not None and not (isinstance(paths, list) and all(
                isinstance(p, str) and p.startswith("/") and " " not in p for p in paths)):
            errors.append("hastack:services:%s:retry_paths: must be a list of paths such as "
                          "/v3/auth/tokens" % sname)
