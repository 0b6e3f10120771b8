"""
Galera on this node: wsrep status (PyMySQL over the local socket), ``grastate.dat``, the
position from ``mariadbd --wsrep-recover``, bootstrap and join.

The decisions (who bootstraps, what each grastate.dat says) are :mod:`hastack.galera`;
``salt-run hastack.galera_recover`` runs them across the cluster.
"""

import os
import subprocess
import time

try:
    from hastack import galera, galera_health

    HAS_LIBS = True
except ImportError:
    HAS_LIBS = False

__virtualname__ = "ha_galera"

DATADIR = "/var/lib/mysql"
GRASTATE = os.path.join(DATADIR, "grastate.dat")
RECOVER_LOG = os.path.join(DATADIR, "hastack-wsrep-recover.log")
CONFIG = "/etc/mysql/mariadb.conf.d/60-hastack.cnf"


def __virtual__():
    if not HAS_LIBS:
        return (False, "ha_galera: needs PyMySQL and the hastack package in the minion's Python")
    return __virtualname__


def _running():
    """MariaDB's unit is up or on its way (a node waiting for a Primary component stays
    'activating'): either way its data directory is in use."""
    res = subprocess.run(["systemctl", "show", "-p", "ActiveState", "--value", "mariadb"],
                         capture_output=True, text=True, timeout=30)
    return res.stdout.strip() in ("active", "activating", "deactivating", "reloading")


def status():
    """
    This node's wsrep status (state, Synced, Primary, ready, cluster size, last committed),
    or None when MariaDB does not answer on its local socket.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,ctl2,ctl3 ha_galera.status
    """
    return galera_health.local_status()


def grastate():
    """
    ``grastate.dat`` parsed (uuid, seqno, safe_to_bootstrap), or None when it does not exist.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.grastate
    """
    try:
        with open(GRASTATE) as f:
            return galera.parse_grastate(f.read())
    except FileNotFoundError:
        return None


def write_grastate(text=None, by_node=None):
    """
    Replace ``grastate.dat`` (owned by mysql, mode 0660). Refused while MariaDB runs.
    ``by_node``: ``{node: text}`` instead of ``text``, so one call writes every member's
    own file at once; each takes its entry (none: nothing to write here).

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_galera.write_grastate "$(cat grastate.dat)"
    """
    if by_node is not None:
        text = by_node.get(__grains__["id"])
        if text is None:
            return {"result": True, "comment": "no grastate.dat for this node"}
    if _running():
        return {"result": False, "comment": "MariaDB is running: grastate.dat is its to write"}
    galera.parse_grastate(text)  # refuses what it cannot read
    tmp = GRASTATE + ".hastack-new"
    with open(tmp, "w") as f:
        f.write(text)
    stat = os.stat(DATADIR)
    os.chown(tmp, stat.st_uid, stat.st_gid)
    os.chmod(tmp, 0o660)
    os.replace(tmp, GRASTATE)
    return {"result": True, "comment": "grastate.dat written"}


def recover():
    """
    The last committed position from ``mariadbd --wsrep-recover`` (MariaDB must be
    stopped): ``{"uuid": ..., "seqno": ...}``, or an ``error``.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.recover
    """
    if _running():
        return {"error": "MariaDB is running; read the position from ha_galera.status"}
    # mariadbd appends to its log: start from an empty one so the last position is ours.
    open(RECOVER_LOG, "w").close()
    stat = os.stat(DATADIR)
    os.chown(RECOVER_LOG, stat.st_uid, stat.st_gid)
    res = subprocess.run(["mariadbd", "--user=mysql", "--wsrep-recover",
                          "--log-error=" + RECOVER_LOG], capture_output=True, text=True,
                         timeout=300)
    with open(RECOVER_LOG) as f:
        found = galera.parse_recovered(f.read())
    if found is None:
        return {"error": "mariadbd --wsrep-recover (exit %d) printed no position; see %s"
                         % (res.returncode, RECOVER_LOG)}
    return {"uuid": found[0], "seqno": found[1]}


def report(stop_outside_primary=False, kill_after=None):
    """
    Everything the election needs from this node: running/Primary/Synced, whether it has
    data, its cluster UUID and last committed seqno (recovered from InnoDB after a crash).

    stop_outside_primary
        first stop a MariaDB that runs outside a Primary component (``stop``, killed after
        ``kill_after`` seconds), so its position can be read in the same call. Only
        ``salt-run hastack.galera_recover`` asks it, once no member is in a Primary
        component. The report then says ``stopped``.

    CLI Example:

    .. code-block:: bash

        salt -L ctl1,ctl2,ctl3 ha_galera.report
        salt -L ctl1,ctl2,ctl3 ha_galera.report stop_outside_primary=True kill_after=1
    """
    out = {"running": bool(_running())}
    live = status() if out["running"] else None
    if stop_outside_primary and out["running"] and not (live and live["primary"]):
        stopped = stop(kill_after=kill_after)
        if not stopped["result"]:
            return dict(out, error="stopping it failed: " + stopped["comment"])
        out, live = {"running": False, "stopped": True}, None
    if live:
        out.update(primary=live["primary"], synced=live["synced"], has_grastate=True,
                   uuid=live["cluster_uuid"], seqno=live["last_committed"])
        return out
    state = grastate()
    if state is None:
        return dict(out, has_grastate=False)
    out.update(has_grastate=True, **state)
    if state["seqno"] < 0 and not out["running"]:
        found = recover()
        if "error" in found:
            out["error"] = found["error"]
        else:
            out["seqno"] = found["seqno"]
            if state["uuid"] == galera.NO_UUID:
                out["uuid"] = found["uuid"]
    return out


def _systemctl(verb, timeout):
    res = subprocess.run(["systemctl", verb, "mariadb"], capture_output=True, text=True,
                         timeout=timeout)
    return {"result": res.returncode == 0, "comment": (res.stderr or res.stdout).strip()}


def bootstrap(sst_user=False):
    """
    Start MariaDB as a new Primary component (``galera_new_cluster``). Only
    ``salt-run hastack.galera_recover`` should call this: it decides which node may.
    ``sst_user``: then also make the mariabackup SST user (``ensure_sst_user``), in the same
    call, before any member joins.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.bootstrap
        salt ctl1 ha_galera.bootstrap sst_user=True
    """
    res = subprocess.run(["galera_new_cluster"], capture_output=True, text=True, timeout=900)
    out = {"result": res.returncode == 0, "comment": (res.stderr or res.stdout).strip()}
    if out["result"] and sst_user:
        # galera_new_cluster returns once the unit is started: Type=notify, and a
        # bootstrapped member is ready when it is Primary and Synced.
        out["comment"] = "; ".join(c for c in (out["comment"], ensure_sst_user()["comment"])
                                   if c)
    return out


# How long ``join`` lets a running member that is not Synced stop before it kills it.
JOIN_KILL_AFTER = 10


def join(donor=None):
    """
    Start MariaDB so it joins the running Primary component (IST, or SST if too far behind).
    A MariaDB that runs but is not Synced (restarted by systemd during an outage and left
    outside the Primary component, or evicted while joining) is stopped first, and killed
    after ``JOIN_KILL_AFTER`` seconds if it does not stop, then started. ``donor``: the
    ``wsrep_sst_donor`` list for this start only (``hastack.galera.sst_donors``).

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_galera.join
        salt ctl4 ha_galera.join donor=ctl3,ctl2,
    """
    if _running() and not galera.healthy(status()):
        # Stopped first, killed if it ignores SIGTERM: a member waiting for a Primary
        # component or inside a state transfer does not stop, and Debian's unit then waits
        # 15 min (TimeoutStopSec) and never sends SIGKILL (seen in CI: a rejoin's restart
        # hung in "deactivating"). It serves nothing and has committed nothing since it
        # started (see ``stop``).
        stopped = stop(kill_after=JOIN_KILL_AFTER)
        if not stopped["result"]:
            return stopped
    if not donor:
        return _systemctl("start", 900)
    # Debian's unit passes $MYSQLD_OPTS to mariadbd (galera_new_cluster sets its own
    # variable the same way); unset at once, so a later restart by systemd names no donor.
    subprocess.run(["systemctl", "set-environment",
                    "MYSQLD_OPTS=--wsrep_sst_donor=%s" % donor], check=False, timeout=30)
    try:
        return _systemctl("start", 900)
    finally:
        subprocess.run(["systemctl", "unset-environment", "MYSQLD_OPTS"], check=False,
                       timeout=30)


def stop(kill_after=None):
    """
    Stop MariaDB on this node (a member leaving the cluster, or one stuck outside a Primary
    component before a recovery re-elects).

    kill_after
        seconds to wait for a clean stop before SIGKILL; only for a member outside any
        Primary component. One that systemd restarted after a full outage ignores SIGTERM
        while it waits for a Primary component (``pc.wait_prim_timeout``, 30 s). Killing it
        loses nothing: without a Primary component it has committed nothing since it
        started, and every earlier commit is on disk (``innodb_flush_log_at_trx_commit =
        1``).

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_galera.stop
        salt ctl2 ha_galera.stop kill_after=5
    """
    if kill_after is None:
        return _systemctl("stop", 300)
    # The stop job sends SIGTERM; killing the process under it ends the job without a
    # restart (Restart= does not apply to a unit being stopped).
    subprocess.run(["systemctl", "stop", "--no-block", "mariadb"], capture_output=True,
                   timeout=30)
    deadline = time.monotonic() + float(kill_after)
    while _running() and time.monotonic() < deadline:
        time.sleep(0.5)
    killed = _running()
    if killed:
        subprocess.run(["systemctl", "kill", "-s", "KILL", "mariadb"], capture_output=True,
                       timeout=30)
        deadline = time.monotonic() + 60
        while _running() and time.monotonic() < deadline:
            time.sleep(0.5)
    if _running():
        return {"result": False, "comment": "mariadb still running after SIGKILL"}
    return {"result": True, "comment": "killed after %s s without stopping" % kill_after
            if killed else "stopped"}


def render_config():
    """
    The MariaDB/Galera config hastack renders for this node.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.render_config
    """
    return galera.render_config(__salt__["ha_topology.get"](), __grains__["id"])


def render_arbitrator():
    """
    The Galera arbitrator's config (``/etc/default/garb``) for the pillar's arbitrator.

    CLI Example:

    .. code-block:: bash

        salt net1 ha_galera.render_arbitrator
    """
    return galera.render_arbitrator(__salt__["ha_topology.get"]())


def config_path():
    """
    Where hastack writes the MariaDB/Galera config.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.config_path
    """
    return CONFIG


def ensure_sst_user():
    """
    Create (or reset the password of) the ``sst`` user mariabackup SST authenticates with,
    from ``hastack:secrets:galera_sst_password``. Run on a Primary node: Galera replicates it.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.ensure_sst_user
    """
    password = __salt__["ha_topology.get"]()["secrets"]["galera_sst_password"]
    conn = galera_health.connect()
    try:
        with conn.cursor() as cur:
            for statement in galera.sst_user_sql(password):
                cur.execute(statement)
    finally:
        conn.close()
    return {"result": True, "comment": "sst@localhost present"}


def _database_facts(cur, name, user, password, host):
    cur.execute("SHOW DATABASES LIKE %s", (name,))
    facts = {"database": cur.fetchone() is not None}
    cur.execute("SELECT Password = PASSWORD(%s) FROM mysql.user WHERE User = %s AND Host = %s",
                (password, user, host))
    row = cur.fetchone()
    facts["user"] = row is not None
    facts["password"] = bool(row and row[0])
    facts["grant"] = False
    if facts["user"]:
        cur.execute("SHOW GRANTS FOR %s@%s", (user, host))
        wanted = "GRANT ALL PRIVILEGES ON `%s`.* TO" % name
        facts["grant"] = any(r[0].startswith(wanted) for r in cur.fetchall())
    return facts


def database(name, user, password, host, test=False):
    """
    Make an OpenStack service's database and its user (``user@host`` with ALL on
    ``name``), on a node of the Primary component; Galera replicates it. Returns
    ``{"result", "changes", "comment"}``; with ``test=True`` only says what is missing.

    CLI Example:

    .. code-block:: bash

        salt ctl1 ha_galera.database keystone keystone PASSWORD 198.18.10.0/255.255.255.0
    """
    if not galera.healthy(status()):
        return {"result": False, "changes": {},
                "comment": "MariaDB on this node is not Synced in a Primary component"}
    conn = galera_health.connect()
    try:
        with conn.cursor() as cur:
            missing = galera.database_missing(
                name, user, host, _database_facts(cur, name, user, password, host))
            if not missing or test:
                return {"result": True, "changes": {"missing": missing} if missing else {},
                        "comment": "would create " + ", ".join(missing) if missing
                        else "database %s and its user are present" % name}
            for statement in galera.database_sql(name, user, password, host):
                cur.execute(statement)
    finally:
        conn.close()
    return {"result": True, "changes": {"created": missing},
            "comment": "created " + ", ".join(missing)}
