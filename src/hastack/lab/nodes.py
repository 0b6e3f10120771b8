"""Lab nodes: systemd-nspawn containers booting systemd, each an overlay on the cached image.

A node's disk is ``<lab>/nodes/<name>/{upper,work}`` over the image; its root is mounted at
``<lab>/nodes/<name>/root``. Powering a node off (``kill``) keeps its disk, like a real power
loss; ``remove`` throws it away.

Traps handled here (see shared LAB-NOTES): ``systemd-nspawn --boot`` needs ``--keep-unit``
because PID 1 on the host is not systemd, and with ``--keep-unit`` from the root cgroup every
container would share ``/payload`` and ``/supervisor``: so each launcher first moves itself
into its own cgroup in both the ``systemd`` and ``unified`` hierarchies. A file named
``host0.network`` loses to the image's ``80-container-host0.network``: ours is ``10-host0``.
"""

import errno
import os
import secrets
import shutil
import signal
import subprocess
import time

from hastack.lab import image, layout, net
from hastack.lab.proc import LabError, pidfile_argv, run

CGROUP_HIERARCHIES = ("/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified")
CGROUP_PARENT = "hastack-lab"
NODE_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Node:
    """One lab node's files and processes. ``lab`` is the lab's state directory."""

    def __init__(self, lab, name, address, src):
        self.name = name
        self.address = str(address)
        self.src = src                      # the checkout's src/, bound read-only into the node
        self.dir = os.path.join(lab, "nodes", name)
        self.root = os.path.join(self.dir, "root")
        self.pidfile = os.path.join(self.dir, "nspawn.pid")
        self.console = os.path.join(self.dir, "console.log")

    # -- processes -------------------------------------------------------------------------
    def nspawn_pid(self):
        """PID of this node's systemd-nspawn if it is alive and really ours, else None."""
        pid, argv = pidfile_argv(self.pidfile)
        if pid and b"systemd-nspawn" in argv[0] and self.name.encode() in argv:
            return pid
        return None

    def leader(self):
        """PID of the container's init (the child of systemd-nspawn), or None."""
        pid = self.nspawn_pid()
        if pid is None:
            return None
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                children = f.read().split()
        except OSError:
            return None
        return int(children[0]) if children else None

    def is_running(self):
        return self.leader() is not None

    # -- disk --------------------------------------------------------------------------------
    def is_mounted(self):
        with open("/proc/self/mounts") as f:
            return any(line.split()[1] == self.root for line in f)

    def mount(self, lower):
        for sub in ("upper", "work", "root"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        if not self.is_mounted():
            run(["mount", "-t", "overlay", "overlay", "-o",
                 "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (lower, self.dir, self.dir),
                 self.root])

    def write_identity(self, hosts, master, minion_key):
        """Per-node files: hostname, hosts, static address, machine id, minion id and key."""
        files = {
            "etc/hostname": self.name + "\n",
            "etc/hosts": "127.0.0.1 localhost\n" + "".join(
                "%s %s\n" % (addr, name) for name, addr in hosts.items()),
            "etc/systemd/network/10-host0.network":
                "[Match]\nName=%s\n\n[Network]\nAddress=%s/%d\nLinkLocalAddressing=no\n"
                % (layout.NODE_IFACE, self.address, layout.SUBNET.prefixlen),
            # Short TCP keepalives: after a partition heals, the minion notices its dead
            # connections in seconds instead of the kernel's two hours.
            "etc/salt/minion.d/node.conf": "id: %s\nmaster: %s\ntcp_keepalive_idle: 10\n"
                                           "tcp_keepalive_cnt: 3\ntcp_keepalive_intvl: 3\n"
                                           % (self.name, master),
            "etc/salt/minion_id": self.name + "\n",
            "etc/salt/pki/minion/minion.pem": minion_key[0],
            "etc/salt/pki/minion/minion.pub": minion_key[1],
        }
        machine_id = os.path.join(self.root, "etc/machine-id")
        if os.path.getsize(machine_id) == 0:
            files["etc/machine-id"] = secrets.token_hex(16) + "\n"
        for rel, text in files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        os.chmod(os.path.join(self.root, "etc/salt/pki/minion/minion.pem"), 0o400)

    # -- power -------------------------------------------------------------------------------
    def start(self):
        """Boot the node (its disk must be mounted). Returns the nspawn PID."""
        if self.is_running():
            return self.nspawn_pid()
        net.remove_veth(self.name)
        cgroups = [os.path.join(h, CGROUP_PARENT, self.name) for h in CGROUP_HIERARCHIES]

        def own_cgroup():
            for path in cgroups:
                os.makedirs(path, exist_ok=True)
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(os.getpid()))

        cmd = ["systemd-nspawn", "--boot", "--register=no", "--keep-unit", "--quiet",
               "-M", self.name, "-D", self.root, "--network-bridge=" + layout.BRIDGE,
               "--bind-ro=%s:%s" % (self.src, image.HASTACK_SRC)]
        with open(self.console, "ab") as log:
            child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=own_cgroup)
        with open(self.pidfile, "w") as f:
            f.write(str(child.pid))
        return child.pid

    def power_off(self, timeout=10):
        """Hard power loss: SIGKILL the container's init, which takes every process in it.

        Its veth goes at once (deleted here too: orphaned TCP sockets can keep a dead node's
        network namespace, and so the veth, alive for minutes), and any VIP it held with it.
        Nothing inside is shut down cleanly. The disk stays.
        """
        pid, leader = self.nspawn_pid(), self.leader()
        if leader:
            _kill(leader)
        deadline = time.monotonic() + timeout
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid and _alive(pid):
            _kill(pid)
        net.remove_veth(self.name)
        _remove_cgroups(self.name)

    def exec(self, argv, check=False, timeout=None, capture=True):
        """Run ``argv`` inside the node (all its namespaces, a clean environment)."""
        leader = self.leader()
        if leader is None:
            raise LabError("node %s is not running; `hastack lab start %s`"
                           % (self.name, self.name))
        cmd = ["nsenter", "-t", str(leader), "-a", "/usr/bin/env", "-i", NODE_PATH,
               "HOME=/root", "LANG=C.UTF-8"] + list(argv)
        return subprocess.run(cmd, check=check, timeout=timeout, text=True,
                              capture_output=capture)

    def system_state(self):
        """systemd's view of the boot: 'running', 'degraded', 'starting'... or 'off'."""
        if not self.is_running():
            return "starting" if self.nspawn_pid() else "off"
        try:
            res = self.exec(["systemctl", "is-system-running"], timeout=10)
        except (subprocess.TimeoutExpired, LabError):
            return "unknown"
        return res.stdout.strip() or "unknown"

    def remove(self):
        """Power off, unmount and delete the node's disk."""
        self.power_off()
        image.unmount_under(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _remove_cgroups(name=None):
    """Remove the lab's (now empty) cgroups, deepest first; systemd in a node makes its own."""
    for hierarchy in CGROUP_HIERARCHIES:
        top = os.path.join(hierarchy, CGROUP_PARENT, *([name] if name else []))
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def remove_all_cgroups():
    _remove_cgroups()
