"""The lab's salt-master: its own config dir under the lab, bound to the bridge, run from the
venv hastack is installed in, with a ``Saltfile`` at the checkout so plain ``salt``,
``salt-run``, ``salt-key`` and ``salt-call`` use it.

File roots are the checkout's ``salt/`` state tree plus a small directory of links to the
checkout's ``orch/``, ``_modules/``, ``_states/``... so ``orch.deploy`` and the custom modules
are served without exposing the whole checkout to the minions. Pillar roots put the lab's
generated topology and secrets before the checkout's ``pillar/``.

Minion keys are made here and pre-seeded on both sides, so the master accepts exactly the
lab's nodes and nothing waits on key acceptance.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import yaml

from hastack.lab import layout
from hastack.lab.proc import LabError, pidfile_argv

# Served at the file root: {name: path in the checkout}. `lab` holds lab-only states.
SERVED = {name: name for name in ("orch", "reactor", "_modules", "_states", "_runners",
                                  "_beacons", "_utils")}
SERVED["lab"] = "src/hastack/lab/salt/lab"


def bin_path(tool):
    """A salt tool from the venv this hastack runs in."""
    return os.path.join(os.path.dirname(sys.executable), tool)


class Master:
    def __init__(self, lab, repo):
        self.lab = lab
        self.repo = repo
        self.conf_dir = os.path.join(lab, "master")
        self.root_dir = os.path.join(self.conf_dir, "root")
        self.srv = os.path.join(lab, "srv")
        self.pillar = os.path.join(lab, "pillar")
        self.pidfile = os.path.join(self.conf_dir, "master.pid")
        self.log = os.path.join(self.conf_dir, "master.log")
        self.pki = os.path.join(self.root_dir, "etc/salt/pki/master")

    def config(self):
        """The master config as data (pure)."""
        return {
            "id": "hastack-lab-master",
            "root_dir": self.root_dir,
            "interface": str(layout.HOST),
            "user": "root",
            "worker_threads": 2,
            "auto_accept": False,
            "file_roots": {"base": [os.path.join(self.repo, "salt"), self.srv]},
            "pillar_roots": {"base": [self.pillar, os.path.join(self.repo, "pillar")]},
            "pillar_source_merging_strategy": "recurse",
            "state_output": "changes",
            "log_level": "warning",
            "log_level_logfile": "info",
            "log_file": "var/log/salt/master",
            "keep_jobs_seconds": 3600,
            "timeout": 10,
            # The DRBD VMs run under software emulation: a busy one can take more than
            # Salt's default 10 s to answer "is the job still running?".
            "gather_job_timeout": 30,
            # DRBD auto-promotion: the ha_drbd beacon's peer-lost events (reactor/drbd.sls).
            "reactor": [{"salt/beacon/*/ha_drbd/peer-lost":
                         [os.path.join(self.repo, "reactor", "drbd.sls")]},
                        # Auto-healing: every ha_health beacon event (reactor/heal.sls).
                        {"salt/beacon/*/ha_health/*":
                         [os.path.join(self.repo, "reactor", "heal.sls")]}],
        }

    def local_minion_config(self):
        """``salt-call`` on the host: masterless, same trees, for rendering and checks."""
        cfg = self.config()
        return {"id": "hastack-lab-host", "root_dir": cfg["root_dir"], "file_client": "local",
                "file_roots": cfg["file_roots"], "pillar_roots": cfg["pillar_roots"],
                "log_level": "warning", "log_file": "var/log/salt/minion"}

    def write_config(self):
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "master"), "w") as f:
            yaml.safe_dump(self.config(), f, default_flow_style=False)
        with open(os.path.join(self.conf_dir, "minion"), "w") as f:
            yaml.safe_dump(self.local_minion_config(), f, default_flow_style=False)
        os.makedirs(self.srv, exist_ok=True)
        for name, rel in SERVED.items():
            link, target = os.path.join(self.srv, name), os.path.join(self.repo, rel)
            if os.path.lexists(link):
                os.unlink(link)
            if os.path.isdir(target):
                os.symlink(target, link)
        tools = ("salt", "salt-run", "salt-key", "salt-call", "salt-cp")
        with open(os.path.join(self.repo, "Saltfile"), "w") as f:
            yaml.safe_dump({t: {"config_dir": self.conf_dir} for t in tools}, f,
                           default_flow_style=False)

    def minion_key(self, name):
        """Make a key pair for minion ``name`` and accept its public half. Returns the pair."""
        import salt.crypt  # only the lab needs it; keeps `hastack --help` fast

        priv, pub = salt.crypt.gen_keys(2048)
        accepted = os.path.join(self.pki, "minions")
        os.makedirs(accepted, exist_ok=True)
        with open(os.path.join(accepted, name), "w") as f:
            f.write(pub)
        for state in ("minions_pre", "minions_rejected", "minions_denied"):
            try:
                os.unlink(os.path.join(self.pki, state, name))
            except FileNotFoundError:
                pass
        return priv, pub

    def forget_minion(self, name):
        try:
            os.unlink(os.path.join(self.pki, "minions", name))
        except FileNotFoundError:
            pass

    def pid(self):
        pid, argv = pidfile_argv(self.pidfile)
        cmdline = b" ".join(argv)
        return pid if b"salt-master" in cmdline and self.conf_dir.encode() in cmdline else None

    def start(self, timeout=60):
        if self.pid():
            return
        os.makedirs(self.root_dir, exist_ok=True)
        with open(self.log, "ab") as log:
            child = subprocess.Popen([bin_path("salt-master"), "-c", self.conf_dir],
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        with open(self.pidfile, "w") as f:
            f.write(str(child.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise LabError("salt-master exited %d; see %s" % (child.returncode, self.log))
            try:
                socket.create_connection((str(layout.HOST), 4506), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise LabError("salt-master did not listen on %s:4506 within %d s; see %s"
                       % (layout.HOST, timeout, self.log))

    def stop(self, timeout=15):
        """Stop the master we started (by its PID, and the process group it leads)."""
        pid = self.pid()
        if pid:
            try:
                os.killpg(pid, 15)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
            while self.pid() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid():
                os.killpg(pid, 9)
        try:
            os.unlink(self.pidfile)
        except FileNotFoundError:
            pass

    def remove(self):
        self.stop()
        shutil.rmtree(self.conf_dir, ignore_errors=True)
        shutil.rmtree(self.srv, ignore_errors=True)
        saltfile = os.path.join(self.repo, "Saltfile")
        if os.path.exists(saltfile):
            os.unlink(saltfile)

    # -- talking to the minions ------------------------------------------------------------------
    def cmd(self, tool, args, timeout=None):
        """Run a salt CLI tool against this master; returns the CompletedProcess."""
        return subprocess.run([bin_path(tool), "-c", self.conf_dir] + list(args), text=True,
                              capture_output=True, timeout=timeout)

    def ping(self, targets, timeout=5):
        """Names of the minions among ``targets`` that answer test.ping."""
        res = self.cmd("salt", ["-L", ",".join(targets), "test.ping", "--out=json", "--static",
                                "-t", str(timeout)], timeout=timeout + 60)
        try:
            answers = json.loads(res.stdout or "{}")
        except ValueError:
            return set()
        return {name for name, ok in answers.items() if ok is True}
