"""``hastack lab``: bring the lab up, tear it down, and break it on purpose.

``up`` converges: it builds or reuses the image, clears a stale lab left by an earlier session
(its processes gone, its mounts, bridge and cgroups still there), reuses live nodes, boots the
missing ones, starts the master, waits for every minion, syncs the custom modules and runs
``orch.deploy``. ``down`` removes everything but the image cache.
"""

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from hastack import secrets, topology
from hastack.lab import image, layout, net, nodes, vm
from hastack.lab.master import Master
from hastack.lab.proc import LabError

LAB = "/var/lib/hastack/lab"
REQUIRED_TOOLS = ("debootstrap", "systemd-nspawn", "nsenter", "nft", "ip", "mount", "chroot")


def repo_root():
    """The checkout this hastack runs from (src/hastack/lab/lab.py -> the checkout)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))


class Lab:
    def __init__(self, lab=LAB, repo=None, progress=print):
        self.dir = lab
        self.repo = repo or repo_root()
        self.progress = progress
        self.master = Master(lab, self.repo)
        self.state_file = os.path.join(lab, "lab.json")

    # -- state -------------------------------------------------------------------------------
    def saved(self):
        try:
            with open(self.state_file) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def node(self, name, state=None):
        state = state or self.saved()
        if not state or name not in state["nodes"]:
            known = ", ".join(state["nodes"]) if state else "none: run `hastack lab up`"
            raise LabError("unknown node %r (lab nodes: %s)" % (name, known))
        return nodes.Node(self.dir, name, state["nodes"][name], os.path.join(self.repo, "src"))

    def all_nodes(self, state=None):
        state = state or self.saved() or {"nodes": {}}
        return [self.node(name, state) for name in state["nodes"]]

    # -- up ----------------------------------------------------------------------------------
    def preflight(self):
        if os.geteuid() != 0:
            raise LabError("the lab needs root (mounts, bridges, containers)")
        missing = [t for t in REQUIRED_TOOLS if not shutil.which(t)]
        if missing:
            raise LabError("missing host tools: %s; `make lab` installs them (apt-get install "
                           "debootstrap systemd-container nftables iproute2 util-linux; "
                           "`hastack lab drbd up` also needs qemu-system-x86 qemu-utils)"
                           % ", ".join(missing))
        for hierarchy in nodes.CGROUP_HIERARCHIES:
            if not os.path.isdir(hierarchy):
                raise LabError("cgroup hierarchy %s is missing" % hierarchy)

    def clear_stale(self, image_hash):
        """Tear down what an earlier lab left if its master is gone or its image is outdated."""
        state = self.saved()
        left = [p for p in (self.state_file, os.path.join(self.dir, "nodes"), self.master.pidfile)
                if os.path.exists(p)] + net.leftovers()
        stale = bool(left) and not self.master.pid()
        if state and state.get("image") != image_hash:
            self.progress("[lab] the image recipe changed: replacing the running lab")
            stale = True
        if stale:
            self.progress("[lab] clearing a stale lab in %s" % self.dir)
            self.down(keep_secrets=True)

    def up(self, controllers=3, network=2, deploy=True):
        started = time.monotonic()
        self.preflight()
        rootfs = image.build(progress=self.progress)
        image_hash = image.recipe_hash()
        self.clear_stale(image_hash)

        topo = layout.make_topology(controllers, network)
        names = layout.node_names(controllers, network)
        self.write_pillar(topo)
        os.makedirs(self.dir, exist_ok=True)
        old = self.saved()
        state = {"image": image_hash, "controllers": controllers, "network": network,
                 "nodes": {n: topo["nodes"][n]["address"] for n in names}}
        gone = [self.node(n, old) for n in (old or {}).get("nodes", {}) if n not in names]
        if not deploy:
            self.remove(gone)
        with open(self.state_file, "w") as f:
            json.dump(state, f, indent=1)

        self.progress("[lab] bridge %s %s/%d" % (layout.BRIDGE, layout.HOST,
                                                layout.SUBNET.prefixlen))
        net.ensure_bridge()
        self.master.write_config()
        self.master.start()
        self.progress("[lab] salt-master pid %s on %s" % (self.master.pid(), layout.HOST))

        hosts = topology.hosts_entries(topo)
        to_boot = []
        for node in self.all_nodes(state):
            if node.is_running():
                continue
            fresh = not os.path.isdir(node.dir)
            node.mount(rootfs)
            if fresh:
                node.write_identity(hosts, str(layout.HOST), self.master.minion_key(node.name))
            to_boot.append(node)
        for node in to_boot:
            node.start()
        self.progress("[lab] booting %s" % (", ".join(n.name for n in to_boot) or "nothing"))
        self.wait_booted(self.all_nodes(state))
        self.progress("[lab] nodes booted (%.1f s)" % (time.monotonic() - started))
        self.wait_minions(names)
        self.progress("[lab] all %d minions answer test.ping (%.1f s since start)"
                      % (len(names), time.monotonic() - started))
        self.sync()
        if deploy:
            # The lab's own backends first, so haproxy finds them up when it starts.
            self.lab_services(topo)
            # A node left out of the requested lab still runs: orch.deploy drains it (it is
            # out of the pillar but carries the cluster's mark), then it is removed.
            self.deploy()
            self.remove(gone)
        self.progress("[lab] up in %.1f s" % (time.monotonic() - started))

    def remove(self, gone):
        for node in gone:
            self.progress("[lab] removing %s (not in the requested lab)" % node.name)
            node.remove()
            self.master.forget_minion(node.name)

    @property
    def topology_path(self):
        """The lab's topology pillar file, as `up` writes it (tests may edit it)."""
        return os.path.join(self.dir, "pillar", "hastack", "topology.sls")

    @property
    def secrets_path(self):
        return os.path.join(self.dir, "pillar", "hastack", "secrets.sls")

    def topology(self, with_secrets=False):
        """The lab's ``hastack`` pillar as written, with its ``secrets`` if asked."""
        with open(self.topology_path) as f:
            topo = yaml.safe_load(f)["hastack"]
        if with_secrets:
            topo["secrets"] = secrets.load(self.secrets_path)
        return topo

    def write_pillar(self, topo):
        """The lab's topology and its secrets (made once, kept across `down`), validated."""
        secrets_file = self.secrets_path
        secrets.write(secrets_file, topo)
        errors = topology.validate(dict(topo, secrets=secrets.load(secrets_file)))
        if errors:
            raise LabError("the requested lab has an invalid topology:\n  " +
                           "\n  ".join(errors))
        with open(self.topology_path, "w") as f:
            f.write("# Generated by `hastack lab up`; the lab's own topology.\n")
            yaml.safe_dump({"hastack": topo}, f, default_flow_style=False, sort_keys=False)

    def wait_booted(self, lab_nodes, timeout=120):
        deadline = time.monotonic() + timeout
        pending = list(lab_nodes)
        while pending and time.monotonic() < deadline:
            with ThreadPoolExecutor(len(pending)) as pool:
                states = list(pool.map(lambda n: n.system_state(), pending))
            for node, st in zip(list(pending), states):
                if st in ("running", "degraded"):
                    pending.remove(node)
                elif st == "off":
                    raise LabError("node %s died while booting; see %s"
                                   % (node.name, node.console))
            time.sleep(0.3)
        if pending:
            raise LabError("nodes not booted after %d s: %s (see their console.log under %s)"
                           % (timeout, ", ".join(n.name for n in pending), self.dir))

    def wait_minions(self, names, timeout=180):
        deadline = time.monotonic() + timeout
        answered = set()
        while time.monotonic() < deadline:
            answered = self.master.ping(names, timeout=3)
            if answered >= set(names):
                return
            self.progress("[lab] waiting for minions: %s"
                          % ", ".join(sorted(set(names) - answered)))
        raise LabError("minions not answering after %d s: %s (node logs: `hastack lab exec "
                       "NODE -- journalctl -u salt-minion`)"
                       % (timeout, ", ".join(sorted(set(names) - answered))))

    def sync(self):
        self.progress("[lab] syncing custom modules to the master and the minions")
        for tool, args in (("salt-run", ["saltutil.sync_all"]),
                           ("salt", ["*", "saltutil.sync_all", "--out=json", "--static"])):
            res = self.master.cmd(tool, args, timeout=300)
            if res.returncode != 0:
                raise LabError("%s %s failed:\n%s%s" % (tool, " ".join(args), res.stdout,
                                                        res.stderr))

    def deploy(self):
        self.progress("[deploy] salt-run state.orchestrate orch.deploy")
        started = time.monotonic()
        res = self.master.cmd("salt-run", ["state.orchestrate", "orch.deploy"], timeout=3600)
        print(res.stdout, end="")
        if res.returncode != 0:
            # salt-run repeats the whole return on stderr as one huge line: keep it short.
            tail = "\n".join(line[:300] for line in res.stderr.splitlines()[-10:])
            raise LabError("orch.deploy failed (exit %d); the output above names the step\n%s"
                           % (res.returncode, tail))
        self.progress("[deploy] done in %.1f s" % (time.monotonic() - started))

    def lab_services(self, topo):
        """Lab-only backends (state lab.echo) on the nodes of the lab's `echo` service."""
        members = topo["services"]["echo"]["nodes"]
        res = self.master.cmd("salt", ["-L", ",".join(members), "state.apply", "lab.echo",
                                       "--out=json", "--static"], timeout=300)
        try:
            failed = [n for n, states in json.loads(res.stdout or "{}").items()
                      if not isinstance(states, dict)
                      or any(s["result"] is not True for s in states.values())]
        except ValueError:
            failed = members
        if res.returncode != 0 or failed:
            raise LabError("state lab.echo failed on %s:\n%s" % (", ".join(failed) or "?",
                                                                res.stdout[-3000:]))
        self.progress("[lab] echo backends up on %s" % ", ".join(members))

    # -- down --------------------------------------------------------------------------------
    def down(self, keep_secrets=True):
        """Stop every node and the master; remove mounts, links, cgroups. Keeps the image."""
        lab_nodes = []
        if os.path.isdir(os.path.join(self.dir, "nodes")):
            for name in sorted(os.listdir(os.path.join(self.dir, "nodes"))):
                lab_nodes.append(nodes.Node(self.dir, name, "", os.path.join(self.repo, "src")))
        with ThreadPoolExecutor(max(1, len(lab_nodes))) as pool:
            list(pool.map(lambda n: n.remove(), lab_nodes))
        vm.remove_all(self.dir)   # the DRBD VMs (hastack lab drbd up), by their PIDs
        self.master.remove()
        image.unmount_under(self.dir)
        nodes.remove_all_cgroups()
        net.remove_bridge()
        for entry in ("nodes", "lab.json"):
            path = os.path.join(self.dir, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)
        if not keep_secrets:
            shutil.rmtree(os.path.join(self.dir, "pillar"), ignore_errors=True)

    # -- status and faults -----------------------------------------------------------------------
    def status(self):
        state = self.saved()
        if not state:
            return {"up": False, "master": None, "nodes": {}}
        cut = net.cut_links()
        table = {}
        for node in self.all_nodes(state):
            running = node.is_running()
            table[node.name] = {
                "address": node.address,
                "power": "on" if running else "off",
                "system": node.system_state() if running else "off",
                "partitioned": layout.host_veth(node.name) in cut,
            }
        return {"up": True, "image": state["image"], "master": self.master.pid(),
                "nodes": table}

    def kill(self, name):
        self.node(name).power_off()

    def start(self, name):
        state = self.saved()
        node = self.node(name, state)
        node.mount(image.rootfs())
        node.start()
        self.wait_booted([node])
