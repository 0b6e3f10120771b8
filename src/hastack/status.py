"""The whole plane at a glance: ``salt-run hastack.status``.

The runner asks every node what it sees and hands the raw answers here; :func:`summarize`
turns them into one report, :func:`render` into the table an operator reads.

The answers, as gathered (a node that did not answer is missing, or has a value that is not
a dict: Salt's "function not available" string, a traceback, ``None``)::

    {"ping":     {node: True},                     # test.ping; a node missing here is down
     "vips":     {lb: ha_vip.held()},
     "haproxy":  {lb: ha_haproxy.backends()},
     "galera":   {node: ha_galera.status()},       # None: MariaDB does not answer
     "rabbitmq": {node: ha_rabbitmq.status()},     # None: rabbitmqctl cluster_status failed
     "keystone": {node: ha_keystone.health()},
     "catalog":  ha_keystone.catalog_check() or None,
     "catalog_node": the node that ran it (optional),
     "neutron":  {node: ha_neutron.health()},      # the Neutron server nodes
     "neutron_agents": ha_neutron.agents() or None,  # on one server node; None: no server
     "neutron_agents_node": the node that ran it (optional),      # node answered
     "cluster":  {member: ha_cluster.status()}}    # None: Pacemaker does not answer

The report has one section per layer the topology has (``nodes`` always; ``vips``,
``haproxy``, ``galera``, ``rabbitmq``, ``keystone``, ``neutron``, ``cluster`` only when
configured), each
with an ``ok``; ``green`` is true when every section is; ``problems`` lists, one sentence
each, what is wrong, naming the node, VIP or service. ``warnings`` lists what is not broken
but must not go unnoticed (a Pacemaker cluster without fencing): they do not turn the status
red, and the table prints them loudly at the top. A section is not ok while a node it needs could
not report: green means "seen to be healthy", never "nothing bad was heard". A node that is
down is named once, in ``nodes``, rather than again in every service it runs; what its
absence does to a service (a smaller Galera cluster, a backend DOWN) is still named there.

Pure: the topology and the answers in, data and text out. No Salt.
"""

from hastack import cluster, galera, loadbalancer, neutron, rabbitmq, vip

SECTIONS = ("nodes", "vips", "haproxy", "galera", "rabbitmq", "keystone", "neutron", "cluster")
TITLES = {"nodes": "Nodes", "vips": "VIPs", "haproxy": "haproxy backends (as each load "
          "balancer sees them)", "galera": "Galera", "rabbitmq": "RabbitMQ",
          "keystone": "Keystone", "neutron": "Neutron",
          "cluster": "Corosync/Pacemaker (hastack:cluster)"}


def _short_text(value, limit=100):
    text = str(value).strip().splitlines()
    text = text[0] if text else ""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _silence(node, section, answers):
    """Why ``node`` gave no usable answer in ``section`` (None: it did, a dict):
    ``node down``, ``no answer``, ``None`` (the function said "not running") or the text
    Salt returned instead (function missing, exception)."""
    got = (answers.get(section) or {})
    if (answers.get("ping") or {}).get(node) is not True:
        return "node down"
    if node not in got:
        return "no answer"
    value = got[node]
    if isinstance(value, dict):
        return None
    if value is None:
        return "None"
    return _short_text(value) or "empty answer"


def _members(topo, service):
    return list(((topo.get("services") or {}).get(service) or {}).get("nodes") or [])


def _yesno(value):
    return "-" if value is None else ("yes" if value else "no")


# -- what to ask ------------------------------------------------------------------------------

FUNCTIONS = (("vips", "ha_vip.held"), ("haproxy", "ha_haproxy.backends"),
             ("galera", "ha_galera.status"), ("rabbitmq", "ha_rabbitmq.status"),
             ("keystone", "ha_keystone.health"), ("neutron", "ha_neutron.health"),
             ("cluster", "ha_cluster.status"))


def plan(topo):
    """Whom the runner asks what, for the layers the topology has: ``[(section, function,
    nodes)]`` in pillar order. The runner leaves out the nodes that did not answer
    test.ping; the catalog check and the agent list are :func:`answer_node`'s."""
    services = topo.get("services") or {}
    lbs = loadbalancer.lb_nodes(topo)
    vip_nodes = lbs + [n for v in (topo.get("vips") or {}).values()
                       for n in v.get("nodes", []) if n not in lbs]
    whom = {"vips": list(dict.fromkeys(vip_nodes)) if topo.get("vips") else [],
            "haproxy": lbs if any(loadbalancer.service_vips(s or {})
                                  for s in services.values()) else []}
    for name in ("galera", "rabbitmq", "keystone", "neutron"):
        whom[name] = _members(topo, name) if name in services else []
    whom["cluster"] = cluster.members(topo) if topo.get("cluster") else []
    return [(section, fun, whom[section]) for section, fun in FUNCTIONS if whom[section]]


# The service-wide checks, each run on one node of its service: (answers key, function,
# service). Their node is :func:`answer_node`'s.
WIDE = (("catalog", "ha_keystone.catalog_check", "keystone"),
        ("neutron_agents", "ha_neutron.agents", "neutron"))


def batches(topo, up):
    """The status pass's Salt calls after test.ping, one per distinct list of functions:
    ``[(nodes, [(answers key, function)])]``, each node in ``up`` getting its layers'
    functions (:func:`plan`) in one multi-function call, instead of one round trip through
    the master per layer. A service-wide check goes with the first node of its service that
    is up: the node :func:`answer_node` picks unless that node's health did not answer (then
    the runner asks the one it picks)."""
    wanted = {}
    for section, fun, nodes in plan(topo):
        for node in nodes:
            if node in up:
                wanted.setdefault(node, []).append((section, fun))
    services = topo.get("services") or {}
    for key, fun, service in WIDE:
        first = next((n for n in _members(topo, service) if n in up), None)
        if service in services and first:
            wanted.setdefault(first, []).append((key, fun))
    groups = {}
    for node in topo.get("nodes") or {}:
        if wanted.get(node):
            groups.setdefault(tuple(wanted[node]), []).append(node)
    return [(nodes, list(calls)) for calls, nodes in groups.items()]


def answer_node(topo, answers, service):
    """The node of ``service`` to run a service-wide check on (Keystone's catalog, Neutron's
    agent list): the first (pillar order) whose health check (``answers[service]``)
    answered, else the first that is up; None if there is none."""
    members = _members(topo, service)
    health = answers.get(service) or {}
    up = answers.get("ping") or {}
    for node in members:
        if up.get(node) is True and isinstance(health.get(node), dict):
            return node
    return next((n for n in members if up.get(n) is True), None)


def catalog_node(topo, answers):
    """The Keystone node to run the catalog check on (see :func:`answer_node`)."""
    return answer_node(topo, answers, "keystone")


# -- sections ---------------------------------------------------------------------------------

def _nodes(topo, answers, problems):
    out = {}
    for name, node in (topo.get("nodes") or {}).items():
        up = (answers.get("ping") or {}).get(name) is True
        out[name] = {"address": str(node.get("address", "")), "roles": list(node.get("roles", [])),
                     "up": up}
        if not up:
            problems.append("node %s (%s) is down: it did not answer test.ping"
                            % (name, out[name]["address"]))
    return {"ok": all(n["up"] for n in out.values()), "nodes": out}


def _vips(topo, answers, problems):
    possible = next(nodes for section, _, nodes in plan(topo) if section == "vips")
    held = {n: list(a) for n, a in (answers.get("vips") or {}).items()
            if isinstance(a, dict) and _silence(n, "vips", answers) is None}
    report = vip.holders_report(topo, held, [n for n in possible if n not in held])
    for name, v in report.items():
        if v["status"] == "split-brain":
            problems.append("VIP %s (%s) is held by %d nodes at once: %s"
                            % (name, v["address"], len(v["holders"]), ", ".join(v["holders"])))
        elif v["status"] == "missing":
            problems.append("VIP %s (%s) is held by no node" % (name, v["address"]))
        elif v["status"] == "unknown":
            silent = [n for n in topo["vips"][name].get("nodes", []) if n not in held]
            problems.append("VIP %s (%s) has no holder among the nodes that answered; %s "
                            "did not answer" % (name, v["address"], ", ".join(silent)))
    return {"ok": all(v["status"] == "ok" for v in report.values()), "vips": report}


def _up(status):
    return isinstance(status, str) and status.split(" ")[0] == "UP"


def _haproxy(topo, answers, problems):
    lbs = loadbalancer.lb_nodes(topo)
    services = {name: svc for name, svc in sorted((topo.get("services") or {}).items())
                if loadbalancer.service_vips(svc)}
    seen, silent = {}, {}
    for lb in lbs:
        why = _silence(lb, "haproxy", answers)
        if why is None:
            seen[lb] = answers["haproxy"][lb]
        else:
            silent[lb] = why
            if why != "node down":
                problems.append("haproxy on %s did not report its backends (%s)" % (lb, why))
    table = {}
    ok = not silent
    for name, svc in services.items():
        table[name] = {}
        for lb, backends in seen.items():
            if name not in backends:
                ok = False
                problems.append("haproxy on %s has no backend %s" % (lb, name))
        for server in svc.get("nodes", []):
            row = {}
            for lb in lbs:
                if lb in silent:
                    row[lb] = None
                elif name not in seen[lb]:
                    row[lb] = "no backend"
                else:
                    row[lb] = seen[lb][name].get(server, "absent")
            table[name][server] = row
            bad = {}
            for lb, status in row.items():
                if lb in seen and name in seen[lb] and not _up(status):
                    bad.setdefault(status, []).append(lb)
            for status, where in sorted(bad.items()):
                ok = False
                problems.append("haproxy: %s backend %s is %s on %s"
                                % (name, server, status, ", ".join(where)))
    return {"ok": ok, "loadbalancers": lbs, "silent": silent, "services": table}


def _galera(topo, answers, problems):
    svc = topo["services"]["galera"]
    members = _members(topo, "galera")
    expected = len(members) + (1 if svc.get("arbitrator") else 0)
    rows, ok, uuids = {}, True, {}
    for node in members:
        why = _silence(node, "galera", answers)
        if why is not None:
            ok = False
            state = "MariaDB not answering" if why == "None" else why
            rows[node] = {"healthy": False, "state": state, "primary": None, "ready": None,
                          "size": None, "seqno": None, "uuid": None}
            if why == "None":
                problems.append("galera on %s: MariaDB does not answer on its local socket"
                                % node)
            elif why != "node down":
                problems.append("galera on %s did not report its status (%s)" % (node, why))
            continue
        status = answers["galera"][node]
        healthy = galera.healthy(status)
        rows[node] = {"healthy": healthy, "state": status.get("state_comment", ""),
                      "primary": status.get("primary"), "ready": status.get("ready"),
                      "size": status.get("cluster_size"), "seqno": status.get("last_committed"),
                      "uuid": status.get("cluster_uuid")}
        if not healthy:
            ok = False
            problems.append("galera on %s is not Synced in a Primary component (state %s, %s, "
                            "%s)" % (node, status.get("state_comment") or "?",
                                     "Primary" if status.get("primary") else "non-Primary",
                                     "ready" if status.get("ready") else "not ready"))
            continue
        uuids.setdefault(status.get("cluster_uuid"), []).append(node)
        if status.get("cluster_size", 0) < expected:
            ok = False
            problems.append("galera on %s sees a cluster of %d, expected %d"
                            % (node, status.get("cluster_size", 0), expected))
    if len(uuids) > 1:
        ok = False
        problems.append("galera members are in different clusters: %s" % "; ".join(
            "%s on %s" % (u, ", ".join(ns)) for u, ns in sorted(uuids.items())))
    return {"ok": ok, "expected_size": expected, "nodes": rows}


def _alarm_text(alarm):
    if isinstance(alarm, dict):
        what = alarm.get("resource") or alarm.get("type") or "alarm"
        where = alarm.get("node")
        return "%s alarm%s" % (what, " on %s" % rabbitmq.short(where) if where else "")
    return str(alarm)


def _rabbitmq(topo, answers, problems):
    members = _members(topo, "rabbitmq")
    rows, ok = {}, True
    views = {}
    for node in members:
        why = _silence(node, "rabbitmq", answers)
        if why is not None:
            ok = False
            rows[node] = {"answered": False, "state": "not answering" if why == "None" else why}
            if why == "None":
                problems.append("rabbitmq on %s does not answer (rabbitmqctl cluster_status "
                                "failed)" % node)
            elif why != "node down":
                problems.append("rabbitmq on %s did not report its status (%s)" % (node, why))
            continue
        status = answers["rabbitmq"][node]
        views[node] = status
        rows[node] = {"answered": True, "nodes": list(status.get("nodes", [])),
                      "running": list(status.get("running", [])),
                      "partitions": dict(status.get("partitions") or {}),
                      "alarms": [_alarm_text(a) for a in status.get("alarms") or []],
                      "version": status.get("version", "")}
    sentences = []
    for member in members:
        outside = [n for n, s in views.items() if member not in s.get("nodes", [])]
        stopped = [n for n, s in views.items()
                   if member in s.get("nodes", []) and member not in s.get("running", [])]
        if outside:
            sentences.append("rabbitmq: %s is not in the cluster (seen from %s)"
                             % (member, ", ".join(outside)))
        if stopped:
            sentences.append("rabbitmq: %s is not running (seen from %s)"
                             % (member, ", ".join(stopped)))
    strangers = sorted({n for s in views.values() for n in s.get("nodes", [])} - set(members))
    for stranger in strangers:
        sentences.append("rabbitmq: cluster node %s is not in hastack:services:rabbitmq:nodes "
                         "(forget it once it is stopped)" % stranger)
    cuts = sorted({(k, peer) for s in views.values()
                   for k, peers in (s.get("partitions") or {}).items() for peer in peers})
    for node, peer in cuts:
        sentences.append("rabbitmq: network partition: %s is cut off from %s" % (node, peer))
    alarms = sorted({a for row in rows.values() for a in row.get("alarms", [])})
    for alarm in alarms:
        sentences.append("rabbitmq: %s" % alarm)
    if sentences:
        ok = False
        problems.extend(sentences)
    return {"ok": ok, "nodes": rows}


def _health(topo, answers, service, problems):
    """``(ok, {node: row})`` from each ``service`` node's HTTP health check (the shape of
    ``ha_keystone.health``); an unhealthy node, or one up that did not report, is named."""
    rows, ok = {}, True
    for node in _members(topo, service):
        why = _silence(node, service, answers)
        if why is not None:
            ok = False
            rows[node] = {"ok": None, "status": None, "seconds": None, "url": "",
                          "error": why}
            if why != "node down":
                problems.append("%s on %s did not report its health (%s)"
                                % (service, node, why))
            continue
        health = answers[service][node]
        rows[node] = {"ok": bool(health.get("ok")), "status": health.get("status"),
                      "seconds": health.get("seconds"), "url": health.get("url", ""),
                      "error": health.get("error")}
        if not health.get("ok"):
            ok = False
            url = health.get("url") or "?"
            if health.get("status"):
                detail = "HTTP %s from %s" % (health["status"], url)
            else:
                error = health.get("error") or "no answer"
                detail = error if url in error else "%s (%s)" % (error, url)
            problems.append("%s on %s is unhealthy: %s" % (service, node, detail))
    return ok, rows


def _keystone(topo, answers, problems):
    ok, rows = _health(topo, answers, "keystone", problems)
    check = answers.get("catalog")
    catalog = {"ok": False, "checked_on": answers.get("catalog_node"), "problems": [],
               "error": None}
    if check is None:
        catalog["error"] = "not checked: no Keystone node answered"
        problems.append("keystone catalog was not checked: no Keystone node answered")
    elif not isinstance(check, dict):
        catalog["error"] = _short_text(check)
        problems.append("keystone catalog check did not run (%s)" % catalog["error"])
    else:
        catalog.update(ok=bool(check.get("ok")), problems=list(check.get("problems") or []),
                       error=check.get("error"))
        if catalog["error"]:
            problems.append("keystone catalog check failed: %s" % catalog["error"])
        problems.extend("keystone catalog: %s" % p for p in catalog["problems"])
        if not catalog["ok"] and not catalog["error"] and not catalog["problems"]:
            problems.append("keystone catalog is not right (the check gave no detail)")
    return {"ok": ok and catalog["ok"], "nodes": rows, "catalog": catalog}


def _agent_problems(topo, agents):
    """What is wrong with the agents Neutron lists: a dead one; in ``active_active`` an agent
    node without an agent of every kind, in ``active_passive`` a kind without exactly one live
    agent (alive, not disabled) among the agent nodes."""
    found = []
    for a in agents:
        if a.get("alive") is not True:
            found.append("neutron %s on %s is dead (last started %s)"
                         % (a.get("agent_type") or "agent", a.get("host") or "?",
                            a.get("started_at") or "?"))
    nodes = neutron.agent_nodes(topo)
    if neutron.passive(topo):
        for kind in neutron.KINDS:
            live = [neutron.host_of(a) for a in agents if a.get("agent_type") == kind and
                    neutron.host_of(a) in nodes and neutron.live(a)]
            if not live:
                found.append("neutron: no live %s on any agent node (%s); active_passive "
                             "needs one" % (kind, ", ".join(nodes)))
            elif len(live) > 1:
                found.append("neutron: %d live %ss at once (%s); active_passive runs one"
                             % (len(live), kind, ", ".join(live)))
        return found
    for node in nodes:
        for kind in neutron.KINDS:
            if not any(a.get("agent_type") == kind and neutron.on_host(a, node)
                       for a in agents):
                found.append("neutron: no %s is registered on %s" % (kind, node))
    return found


def _neutron(topo, answers, problems):
    ok, rows = _health(topo, answers, "neutron", problems)
    check = answers.get("neutron_agents")
    out = {"ok": False, "nodes": rows, "agents": [],
           "agents_checked_on": answers.get("neutron_agents_node"), "agents_error": None}
    if check is None:
        out["agents_error"] = "not checked: no Neutron server node answered"
        problems.append("neutron agents were not checked: no Neutron server node answered")
        return out
    if not isinstance(check, dict):
        out["agents_error"] = _short_text(check) or "empty answer"
        problems.append("neutron agent list did not run (%s)" % out["agents_error"])
        return out
    if check.get("error") or not check.get("ok"):
        out["agents_error"] = _short_text(check.get("error") or "the check gave no detail")
        problems.append("neutron agent list failed: %s" % out["agents_error"])
        return out
    agents = [a for a in check.get("agents") or [] if isinstance(a, dict)]
    order = {kind: i for i, kind in enumerate(neutron.KINDS)}
    for a in sorted(agents, key=lambda a: (str(a.get("host", "")),
                                           order.get(a.get("agent_type"), len(order)))):
        out["agents"].append({"host": str(a.get("host", "")), "type": a.get("agent_type", ""),
                              "alive": a.get("alive") is True, "since": a.get("started_at"),
                              "routers": list(a.get("routers") or []),
                              "networks": list(a.get("networks") or [])})
    found = _agent_problems(topo, agents)
    problems.extend(found)
    out["ok"] = ok and not found
    return out


def _cluster(topo, answers, problems):
    """The cluster as its quorate members see it (the first in pillar order that answered
    with quorum); members outside that view, or silent, are named."""
    views, silent = {}, {}
    for node in cluster.members(topo):
        why = _silence(node, "cluster", answers)
        if why is None:
            views[node] = answers["cluster"][node]
            continue
        silent[node] = "Pacemaker not answering" if why == "None" else why
        if why == "None":
            problems.append("cluster on %s: Pacemaker does not answer (crm_mon failed)" % node)
        elif why != "node down":
            problems.append("cluster on %s did not report its status (%s)" % (node, why))
    seen_from = next((n for n, v in views.items() if v.get("quorate")), None)
    out = {"ok": False, "seen_from": seen_from, "quorate": seen_from is not None,
           "online": [], "offline": [], "dc": None, "resources": {}, "silent": silent,
           "fencing": cluster.fencing_enabled(topo)}
    if seen_from is None:
        problems.append("cluster has no quorum on any member that answered (%s)"
                        % (", ".join(views) or "none did"))
        return out
    view = views[seen_from]
    out.update(online=list(view.get("online") or []), offline=list(view.get("offline") or []),
               dc=view.get("dc"), resources=dict(view.get("resources") or {}))
    found = list(view.get("problems") or [])
    for node, other in views.items():
        if not other.get("quorate"):
            found.append("cluster: %s is outside the quorate partition (it sees no quorum)"
                         % node)
    problems.extend(found)
    out["ok"] = not found and not silent
    return out


def summarize(topo, answers):
    """The report on the whole plane from the runner's raw ``answers`` (see the module doc):
    ``{"green", "problems", "warnings", "nodes", "vips", "haproxy", "galera", "rabbitmq",
    "keystone", "neutron", "cluster"}``, the service sections only for layers the topology has."""
    problems = []
    services = topo.get("services") or {}
    report = {"nodes": _nodes(topo, answers, problems)}
    if topo.get("vips"):
        report["vips"] = _vips(topo, answers, problems)
    if any(loadbalancer.service_vips(s or {}) for s in services.values()):
        report["haproxy"] = _haproxy(topo, answers, problems)
    for name, build in (("galera", _galera), ("rabbitmq", _rabbitmq),
                        ("keystone", _keystone), ("neutron", _neutron)):
        if name in services:
            report[name] = build(topo, answers, problems)
    report["warnings"] = []
    if topo.get("cluster"):
        report["cluster"] = _cluster(topo, answers, problems)
        if not report["cluster"]["fencing"]:
            report["warnings"].append(cluster.fencing_warning(topo))
    report["green"] = all(report[s]["ok"] for s in SECTIONS if s in report)
    report["problems"] = problems
    return report


# -- the table --------------------------------------------------------------------------------

def _table(header, rows, indent="  "):
    """Fixed-width columns, two spaces apart, no trailing blanks."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths))).rstrip()
            for r in cells]


def _render_nodes(sec):
    return _table(["node", "address", "roles", "state"],
                  [[n, v["address"], ",".join(v["roles"]) or "-", "up" if v["up"] else "DOWN"]
                   for n, v in sec["nodes"].items()])


def _render_vips(sec):
    return _table(["vip", "address", "held by", "status"],
                  [[n, v["address"], ",".join(v["holders"]) or "-", v["status"]]
                   for n, v in sec["vips"].items()])


def _render_haproxy(sec):
    lbs = sec["loadbalancers"]
    rows = []
    for name, servers in sec["services"].items():
        for server, row in servers.items():
            rows.append([name, server] + [row[lb] if row[lb] is not None
                                          else sec["silent"].get(lb, "?") for lb in lbs])
    return _table(["service", "server"] + ["on %s" % lb for lb in lbs], rows)


def _render_galera(sec):
    rows = []
    for n, v in sec["nodes"].items():
        rows.append([n, v["state"], _yesno(v["primary"]), _yesno(v["ready"]),
                     "-" if v["size"] is None else "%d/%d" % (v["size"], sec["expected_size"]),
                     "-" if v["seqno"] is None else v["seqno"]])
    return _table(["node", "state", "primary", "ready", "size", "seqno"], rows)


def _render_rabbitmq(sec):
    rows = []
    for n, v in sec["nodes"].items():
        if not v["answered"]:
            rows.append([n, v["state"], "-", "-", "-", "-"])
            continue
        parts = ["%s vs %s" % (k, ",".join(p)) for k, p in sorted(v["partitions"].items())]
        rows.append([n, ",".join(v["nodes"]) or "-",
                     "%s (%d/%d)" % (",".join(v["running"]) or "-", len(v["running"]),
                                     len(v["nodes"])),
                     " ".join(parts) or "none", "; ".join(v["alarms"]) or "none",
                     v["version"] or "-"])
    return _table(["node", "cluster nodes", "running", "partitions", "alarms", "version"], rows)


def _render_health(nodes):
    rows = []
    for n, v in nodes.items():
        health = "?" if v["ok"] is None else ("ok" if v["ok"] else "FAIL")
        rows.append([n, health, v["status"] or "-",
                     "-" if v["seconds"] is None else "%.3f" % v["seconds"],
                     v["url"] or "-", v["error"] or ""])
    return _table(["node", "health", "http", "seconds", "url", "error"], rows)


def _render_keystone(sec):
    lines = _render_health(sec["nodes"])
    cat = sec["catalog"]
    if cat["ok"]:
        verdict = "right (only VIP URLs)"
    elif cat["error"]:
        verdict = "UNKNOWN: %s" % cat["error"]
    else:
        verdict = "WRONG: %d problem(s), listed below" % len(cat["problems"])
    where = " (checked on %s)" % cat["checked_on"] if cat.get("checked_on") else ""
    return lines + ["  catalog: %s%s" % (verdict, where)]


def _render_neutron(sec):
    lines = _render_health(sec["nodes"])
    if sec["agents"]:
        lines += _table(["agent host", "type", "alive", "since", "routers", "networks"],
                        [[a["host"], a["type"], "yes" if a["alive"] else "NO", a["since"] or "-",
                          len(a["routers"]), len(a["networks"])] for a in sec["agents"]])
    if sec["agents_error"]:
        return lines + ["  agents: UNKNOWN: %s" % sec["agents_error"]]
    where = sec.get("agents_checked_on")
    return lines + ["  agents: %d registered%s" % (len(sec["agents"]),
                                                    ", checked on %s" % where if where else "")]


def _render_cluster(sec):
    head = ("  quorum: %s, DC %s, online: %s, offline: %s" % (
        "yes (seen from %s)" % sec["seen_from"] if sec["quorate"] else "NO",
        sec["dc"] or "-", ",".join(sec["online"]) or "-", ",".join(sec["offline"]) or "none"))
    rows = [[name, r.get("role") or "-", ",".join(r.get("nodes") or []) or "-"]
            for name, r in sec["resources"].items()]
    lines = [head] + (_table(["resource", "role", "on"], rows) if rows else [])
    lines += ["  %s: %s" % (n, why) for n, why in sec["silent"].items()]
    lines.append("  fencing: %s" % ("on" if sec["fencing"] else
                                    "DISABLED (hastack:cluster:fencing: %s)"
                                    % cluster.NO_FENCING))
    return lines


_RENDER = {"nodes": _render_nodes, "vips": _render_vips, "haproxy": _render_haproxy,
           "galera": _render_galera, "rabbitmq": _render_rabbitmq,
           "keystone": _render_keystone, "neutron": _render_neutron,
           "cluster": _render_cluster}


def render(report):
    """The report as text: a verdict line, one block per section, the problems at the end."""
    problems = report.get("problems", [])
    if report.get("green"):
        lines = ["hastack status: GREEN"]
    else:
        lines = ["hastack status: NOT GREEN, %d problem%s" % (len(problems),
                                                            "" if len(problems) == 1 else "s")]
    lines += ["!!! WARNING: %s" % w for w in report.get("warnings", [])]
    for name in SECTIONS:
        if name not in report:
            continue
        sec = report[name]
        lines += ["", "%s: %s" % (TITLES[name], "ok" if sec["ok"] else "PROBLEM")]
        lines += _RENDER[name](sec)
    if problems:
        lines += ["", "Problems:"] + ["  - %s" % p for p in problems]
    return "\n".join(lines) + "\n"
