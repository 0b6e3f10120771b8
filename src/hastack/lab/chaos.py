"""Chaos scenarios against the lab, under steady load through the VIPs, with nobody acting
but hastack (systemd, keepalived, haproxy, Galera, RabbitMQ and the healing reactor).

The load, from the host:

- Keystone: a token through the API VIP, one after the other (2 s timeout);
- Galera: rows inserted through the database VIP one autocommit statement at a time; an id
  is *acknowledged* when its commit returned, and *lost* when any member lacks it at the end
  (read causally, ``wsrep_sync_wait``);
- RabbitMQ: persistent messages published to a quorum queue, each *confirmed* by the
  broker; clients list every node.

A scenario starts from a green plane (``hastack.status``) with no heal attempts counted,
runs the load for a few seconds, injects its fault (and later undoes it, for a power-off or
a partition), then waits until ``hastack.status`` is green again. (The membership scenarios
add a 4th controller and remove it again, with ``hastack lab up --controllers``.) The
figures: failed token requests, acknowledged rows missing from the table, confirmed messages
missing from the queue, the longest time the writer and the publisher went without an
acknowledgement, seconds until green (an upper bound: the status takes some seconds to
gather), for a killed service the seconds until its unit was active again, and for an undone
fault the seconds from the undo (power back on, partition healed) until every Galera member
is Synced in a Primary component of the full size. MariaDB and RabbitMQ are killed where the
clients are: on the database VIP's active server and on the broker the publisher is
connected to (the first of the pillar's nodes, both). When the first network node is
powered off, a router and a network are placed on its Neutron agents first, and the figure
is the seconds until the other node's agents alone host them.

Used by ``tests/chaos/`` (which assert no loss and a return to green) and
``bench/chaos.py`` (which prints every figure).
"""

import json
import os
import secrets
import threading
import time

from hastack import keystone, neutron
from hastack.lab import load, netapi
from hastack.lab.client import hastack, together

CONTROLLERS = ["ctl1", "ctl2", "ctl3"]


class TokenLoad(threading.Thread):
    """Keystone tokens through the VIP, one at a time: (time, ok) for each request and how
    long each answer took. ``connect_retries``: how often a connection that could not be
    opened is tried again (keystoneauth's own retry, 0.5 s then 1 s apart); nothing was
    sent, so any client may. ``timeout``: how long a request may take before it counts as
    failed (keystoneauth's default is no limit)."""

    def __init__(self, topo, connect_retries=0, timeout=2):
        super().__init__(daemon=True)
        self.connect_retries = connect_retries
        self.timeout = timeout
        self.took = []
        self.url = keystone.auth_url(topo)
        self.password = topo["secrets"]["keystone_admin_password"]
        self.results = []
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        from keystoneauth1 import session as ks_session
        from keystoneauth1.identity import v3

        while not self.stopping.is_set():
            auth = v3.Password(auth_url=self.url, username="admin", password=self.password,
                               project_name="admin", user_domain_id="default",
                               project_domain_id="default")
            t = time.monotonic()
            try:
                ok = bool(ks_session.Session(auth=auth, timeout=self.timeout,
                                             connect_retries=self.connect_retries).get_token())
                self.took.append(time.monotonic() - t)
            except Exception as exc:  # noqa: BLE001 - every failure counts as a failed request
                ok = False
                self.errors.append((t, "%s: %s" % (type(exc).__name__, str(exc)[:120])))
                time.sleep(0.1)
            self.results.append((t, ok))

    def stop(self):
        self.stopping.set()
        self.join()

    def failed(self):
        return sum(1 for _, ok in self.results if not ok)


class Publisher(threading.Thread):
    """Persistent messages to a quorum queue, each confirmed (``confirmed_at``: when);
    reconnects to any node."""

    def __init__(self, params, queue):
        super().__init__(daemon=True)
        self.params = params
        self.queue = queue
        self.confirmed = set()
        self.confirmed_at = []
        self.errors = 0
        self.stopping = threading.Event()

    def run(self):
        import pika

        i = 0
        while not self.stopping.is_set():
            try:
                conn = pika.BlockingConnection(self.params)
                ch = conn.channel()
                ch.confirm_delivery()
                while not self.stopping.is_set():
                    ch.basic_publish("", self.queue, str(i).encode(), mandatory=True,
                                     properties=pika.BasicProperties(delivery_mode=2))
                    self.confirmed.add(i)
                    self.confirmed_at.append(time.monotonic())
                    i += 1
                    time.sleep(0.01)
                conn.close()
            except (pika.exceptions.AMQPError, OSError):
                self.errors += 1
                time.sleep(0.2)

    def stop(self):
        self.stopping.set()
        self.join()


class Chaos:
    def __init__(self, client, progress=print):
        self.lab = client
        self.progress = progress
        self.topo = client.lab.topology(with_secrets=True)
        self.db = None

    # -- the plane ---------------------------------------------------------------------------
    def green(self, wait=600):
        """Seconds until ``hastack.status`` is green (asked again until it is), or None."""
        started = time.monotonic()
        res = self.lab.salt_run("hastack.status", "wait=%d" % wait, "--out=json",
                                timeout=wait + 120)
        if res.returncode != 0:
            return None
        return round(time.monotonic() - started, 1)

    def ready(self):
        """A green plane with no heal attempts counted: every scenario starts here."""
        if self.green() is None:
            res = self.lab.salt_run("hastack.status", "--out=json")
            raise RuntimeError("the plane is not green before the scenario:\n" +
                               res.stdout[-3000:])
        self.lab.salt_run("hastack.heal_reset")

    def amqp(self):
        import pika

        creds = pika.PlainCredentials("openstack",
                                      self.topo["secrets"]["rabbitmq_users"]["openstack"])
        addresses = [self.topo["nodes"][n]["address"]
                     for n in self.topo["services"]["rabbitmq"]["nodes"]]
        return load.amqp_params(creds, addresses)

    def fresh_queue(self, name, tries=10):
        """An empty quorum queue ``name``. Declared right after its deletion, a quorum queue
        can meet its old Raft member still terminating: the broker closes the connection
        (541 INTERNAL_ERROR, ra ``already_started``; seen running the suite twice on one
        lab). Then it is declared again, a second later."""
        import pika

        conn = pika.BlockingConnection(self.amqp())
        try:
            conn.channel().queue_delete(name)
        finally:
            if conn.is_open:
                conn.close()
        for attempt in range(tries):
            conn = pika.BlockingConnection(self.amqp())
            try:
                conn.channel().queue_declare(name, durable=True,
                                             arguments={"x-queue-type": "quorum"})
                return
            except pika.exceptions.AMQPError:
                if attempt == tries - 1:
                    raise
                time.sleep(1)
            finally:
                if conn.is_open:
                    conn.close()

    # -- one scenario ------------------------------------------------------------------------
    def run(self, name, inject, undo=None, undo_after=15.0, watch_unit=None,
            connect_retries=0, token_timeout=2, watch_neutron=None, watch_galera=False):
        """Load, fault, (undo), back to green; returns the scenario's figures. With
        ``watch_neutron=(lost, to)``: a router and a network placed on ``lost``'s agents
        first, and the seconds until ``to``'s agents alone host them. With ``watch_galera``:
        the seconds from the fault until Galera is whole again (``galera_whole_s``)."""
        self.ready()
        if self.db is None:
            self.db = load.database(self.lab.lab.node("ctl1"), secrets.token_urlsafe(16))
        table = "chaos_" + name.replace("-", "_")
        load.sql(self.lab.lab.node("ctl1"),
                 "CREATE OR REPLACE TABLE hastack_test.%s (id INT PRIMARY KEY)" % table)
        queue = "chaos-" + name
        self.fresh_queue(queue)
        moved, placed = {}, None
        if watch_neutron:           # before the load: the 2 cores answer it sooner
            networking = netapi.Networking(self.topo)
            placed = networking.place_on(watch_neutron[0], "chaos-" + name)
        tokens = TokenLoad(self.topo, connect_retries, token_timeout)
        writer = load.Writer(self.db, "hastack_test." + table)
        publisher = Publisher(self.amqp(), queue)
        for t in (tokens, writer, publisher):
            t.start()
        time.sleep(3)
        self.progress("[chaos] %s" % name)
        back = {}
        watcher = None
        if watch_unit:
            old_pid = self._main_pid(*watch_unit)[1]
            watcher = threading.Thread(target=self._watch_unit,
                                       args=(watch_unit + (old_pid,), back), daemon=True)
        t_fault, fault_at = time.monotonic(), time.strftime("%H:%M:%S", time.gmtime())
        inject()
        if watcher:
            watcher.start()
        whole = {}
        if watch_galera:
            threading.Thread(target=self._watch_galera, args=(whole, t_fault),
                             daemon=True).start()
        if placed:
            mover = threading.Thread(target=lambda: moved.update(seconds=networking.wait_moved(
                *placed, to=watch_neutron[1], started=t_fault)), daemon=True)
            mover.start()
        galera = {}
        if undo:
            time.sleep(undo_after)
            t_undo = time.monotonic()
            undo()
            undo_took = time.monotonic() - t_undo
            threading.Thread(target=self._watch_galera, args=(galera, t_undo),
                             daemon=True).start()
        green = self.green()
        t_green = time.monotonic()
        green_s = None if green is None else round(t_green - t_fault, 1)
        time.sleep(2)
        for t in (tokens, writer, publisher):
            t.stop()
        if watcher:
            watcher.join(timeout=60)
        if placed:
            mover.join(timeout=300)
            networking.remove(*placed)
        rows_lost = writer.lost(self.db, self.topo["services"]["galera"]["nodes"])
        consumed = load.consume_all(self.amqp(), queue)
        out = {
            "token_requests": len(tokens.results),
            "token_failed": tokens.failed(),
            # When they failed, in seconds since the fault, and why (the first 10).
            "token_errors": [[round(t - t_fault, 1), why] for t, why in tokens.errors][:10],
            # The slowest answered token request, in seconds.
            "token_slowest_s": round(max(tokens.took), 2) if tokens.took else None,
            "rows_acked": len(writer.acked),
            "rows_lost": len(rows_lost),
            # Which acknowledged ids each member lacked (the first 10), when any did.
            "rows_lost_on": {n: ids[:10] for n, ids in writer.missing.items() if ids},
            "messages_confirmed": len(publisher.confirmed),
            "messages_lost": len(publisher.confirmed - consumed),
            # The clients' outage: the longest time, from the fault until green, in which no
            # row was acknowledged through the database VIP, and no message confirmed.
            "rows_gap_s": round(load.longest_gap(writer.acked_at, t_fault, t_green), 1),
            "messages_gap_s": round(load.longest_gap(publisher.confirmed_at, t_fault,
                                                     t_green), 1),
            "green_after_s": green_s,
            "fault_at": fault_at,
        }
        if connect_retries:
            out["token_connect_retries"] = connect_retries
        if token_timeout != 2:
            out["token_timeout_s"] = token_timeout
        if watch_unit:
            out["unit_back_s"] = back.get("seconds")
        if watch_galera:
            # From the fault until every member is Synced in one Primary component again.
            out["galera_whole_s"] = whole.get("seconds")
        if placed:
            # From the power-off until the live agents of the other node alone host them.
            out["neutron_moved_s"] = moved.get("seconds")
        if undo:
            # Counted from the undo's start (the power back on, the partition healed): a
            # power-on returns once the nodes have booted, which the lab's busy host takes
            # tens of seconds for (undo_took_s).
            out["galera_whole_after_undo_s"] = galera.get("seconds")
            out["undo_took_s"] = round(undo_took, 1)
        self.progress("[chaos] %s: %s" % (name, json.dumps(out, sort_keys=True)))
        # Kept beside the lab (not removed by `lab down`): the last runs' figures, also when
        # the suite ran under pytest, which shows no output of a passing test.
        with open(os.path.join(self.lab.lab.dir, "chaos-figures.jsonl"), "a") as f:
            f.write(json.dumps(dict(out, scenario=name, time=time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime())), sort_keys=True) + "\n")
        return out

    def _watch_galera(self, out, started, timeout=600):
        """Seconds from ``started`` (the undo's start, or the fault) until every member is
        Synced in one Primary component of the full size."""
        members = [self.lab.lab.node(n) for n in self.topo["services"]["galera"]["nodes"]]
        while time.monotonic() - started < timeout:
            if load.galera_whole(members):
                out["seconds"] = round(time.monotonic() - started, 1)
                return
            time.sleep(0.5)

    def _main_pid(self, node, unit):
        res = self.lab.sh(node, "systemctl", "show", "-p", "ActiveState,MainPID", unit)
        props = dict(line.split("=", 1) for line in res.stdout.split() if "=" in line)
        return props.get("ActiveState"), props.get("MainPID")

    def _watch_unit(self, node_unit, back, timeout=120):
        """Seconds until the killed unit is active again with a new main process."""
        node, unit, old_pid = node_unit
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            state, pid = self._main_pid(node, unit)
            if state == "active" and pid not in (old_pid, "0", None):
                back["seconds"] = round(time.monotonic() - started, 2)
                return
            time.sleep(0.05)

    # -- the faults ------------------------------------------------------------------------------
    def kill9(self, node, unit):
        return lambda: self.lab.sh(node, "systemctl", "kill", "-s", "KILL", unit)

    def kill9_all(self, nodes, unit):
        return lambda: together(lambda node: self.kill9(node, unit)(), nodes)

    def power_off(self, *nodes):
        return lambda: together(self.lab.lab.kill, nodes)

    def power_on(self, *nodes):
        return lambda: together(self.lab.lab.start, nodes)

    def vip_holder(self, vip="api"):
        address = self.topo["vips"][vip]["address"]
        holders = self.lab.holders(address)
        return holders[0] if holders else self.topo["vips"][vip]["nodes"][0]

    def scenarios(self):
        """(name, kwargs for run) for every scenario, in order."""
        from hastack.lab import net

        services = self.topo["services"]
        out = []
        for node, unit in (("ctl2", "keystone"), ("ctl1", "haproxy"), ("ctl1", "keepalived"),
                           (services["galera"]["nodes"][0], "mariadb"),
                           (services["rabbitmq"]["nodes"][0], "rabbitmq-server")):
            out.append(("kill-%s" % unit, dict(inject=self.kill9(node, unit),
                                               watch_unit=(node, unit))))
        # A full Galera outage with the nodes up: every member killed at once. systemd
        # restarts them, they cannot form a Primary component alone (pc.recovery off), and
        # healing runs the full-outage recovery; no boot in the figure (galera_whole_s).
        out.append(("kill-mariadb-everywhere", dict(
            inject=self.kill9_all(services["galera"]["nodes"], "mariadb"), watch_galera=True)))
        out.append(("poweroff-ctl2", dict(inject=self.power_off("ctl2"),
                                          undo=self.power_on("ctl2"))))
        out.append(("partition-ctl3", dict(inject=lambda: net.partition("ctl3"),
                                           undo=lambda: net.heal("ctl3"))))
        networks = neutron.agent_nodes(self.topo) if "neutron" in services else []
        if len(networks) >= 2:
            # Off long enough for its agents to be called dead (agent_down_time) and their
            # router and network moved while it is away.
            out.append(("poweroff-" + networks[0], dict(
                inject=self.power_off(networks[0]), undo=self.power_on(networks[0]),
                undo_after=45.0, watch_neutron=(networks[0], networks[1]))))
        holder = self.vip_holder()
        out.append(("vip-holder-dies", dict(inject=self.power_off(holder),
                                            undo=self.power_on(holder))))
        out.append(("all-controllers-power-loss",
                    dict(inject=self.power_off(*CONTROLLERS),
                         undo=self.power_on(*CONTROLLERS), undo_after=5.0)))
        # Membership, with the user's commands: the figure is the whole step (boot, one
        # orch.deploy; or the drain, one orch.deploy and the node's removal) until green.
        # The token client retries a connection it could not open, as an OpenStack client
        # may, and waits up to 10 s for an answer: the lab's 2 cores run six nodes and a
        # whole deploy, and Salt's own work on all of them at once (module sync, pillar
        # refresh, a Galera SST) has stalled connects and answers past 2 s. How slow the
        # slowest answer was is a figure (token_slowest_s).
        out.append(("add-controller", dict(inject=self.resize(len(CONTROLLERS) + 1),
                                           connect_retries=2, token_timeout=10)))
        out.append(("remove-controller", dict(inject=self.resize(len(CONTROLLERS)),
                                              connect_retries=2, token_timeout=10)))
        return out

    def resize(self, controllers):
        return lambda: hastack("lab", "up", "--controllers", str(controllers))
