"""What lab tests and benchmarks need from the lab: the ``hastack`` CLI, salt against the
lab's master, commands inside nodes, VIP holders, HTTP probes, and the session's lab (brought
up with the user's own command and torn down after, pass or fail).

Set HASTACK_KEEP_LAB=1 to keep the lab after a session (`hastack lab up` converges, so the
next session reuses it), HASTACK_LAB_NO_DEPLOY=1 for a session that needs the nodes and the
master but not the deploy (the DRBD VMs: `make test` runs them first, on a host not yet busy
with the deployed controllers)."""

import http.client
import json
import os
import subprocess
import sys
import time

from hastack.lab.lab import Lab

NODES = ["ctl1", "ctl2", "ctl3", "net1", "net2"]


def hastack(*args, timeout=1800, check=True):
    res = subprocess.run([sys.executable, "-m", "hastack.cli"] + list(args), text=True,
                         capture_output=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError("hastack %s exited %d\n%s\n%s" % (" ".join(args), res.returncode,
                                                               res.stdout[-4000:],
                                                               res.stderr[-4000:]))
    return res


class LabClient:
    """What a test needs: the CLI, salt against the lab's master, commands in nodes."""

    def __init__(self):
        self.lab = Lab(progress=lambda *a: None)

    def salt(self, *args, timeout=120):
        res = self.lab.master.cmd("salt", list(args) + ["--out=json", "--static"],
                                  timeout=timeout)
        return json.loads(res.stdout or "{}")

    def salt_run(self, *args, timeout=300):
        return self.lab.master.cmd("salt-run", list(args), timeout=timeout)

    def ping(self, nodes=NODES, timeout=5):
        return self.lab.master.ping(nodes, timeout=timeout)

    def sh(self, node, *argv, timeout=30):
        return self.lab.node(node).exec(list(argv), timeout=timeout)

    def sh_all(self, nodes, *argv, timeout=30):
        """The same command in several nodes at once (a fault that hits them together)."""
        together(lambda n: self.sh(n, *argv, timeout=timeout), nodes)

    def reaches(self, src, dst_addr):
        """Can node ``src`` reach ``dst_addr`` (one ping, 1 s)?"""
        return self.sh(src, "ping", "-c1", "-W1", dst_addr).returncode == 0

    def holders(self, address):
        """Nodes that have ``address`` on a link, asked of every running node directly."""
        out = []
        for node in self.lab.all_nodes():
            if node.is_running():
                res = node.exec(["ip", "-4", "-o", "addr", "show"], timeout=10)
                if " %s/" % address in res.stdout:
                    out.append(node.name)
        return out

    def get(self, address, port, path="/", timeout=1.0):
        """(status, body) of GET, or (None, error) when the request fails."""
        try:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            return None, str(exc)

    def status(self):
        return json.loads(hastack("lab", "status", "--json").stdout)

    def diagnostics(self, lines=30):
        """What a failed lab test leaves for whoever reads CI's output: the master's last heal
        decisions and runner steps, and each controller's MariaDB unit and last log lines.
        Read from files and local nspawn execs only, so it cannot hang on a stuck master."""
        out = []
        heal_log = os.path.join(self.lab.master.root_dir, "var/cache/salt/master/hastack",
                                "heal.log")
        try:
            with open(heal_log) as f:
                tail = f.readlines()[-lines:]
        except OSError:
            tail = []
        out.append("-- heal log (last %d)" % len(tail))
        for line in tail:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            seen = rec.get("seen") or {}
            out.append("%s %s %s %s/%s %s" % (
                rec.get("time"), rec.get("resource"), rec.get("result"), seen.get("node"),
                seen.get("state") or seen.get("problem"),
                str(rec.get("reason") or rec.get("done") or "")[:300]))
        try:
            with open(self.lab.master.log, errors="replace") as f:
                steps = [ln.rstrip() for ln in f if "[galera] +" in ln or "[drbd]" in ln
                         or "[WARNING ]" in ln and "heal " not in ln
                         and "unclosed" not in ln]
        except OSError:
            steps = []
        out.append("-- master log (runner steps, warnings; last %d)" % min(lines, len(steps)))
        out.extend(line[:300] for line in steps[-lines:])
        for name in ("ctl1", "ctl2", "ctl3"):
            node = self.lab.node(name)
            if not node.is_running():
                out.append("-- %s: not running" % name)
                continue
            res = node.exec(["sh", "-c", "systemctl is-active mariadb; journalctl -u mariadb "
                             "-n 12 --no-pager -o short-precise | cut -c1-220"], timeout=15)
            out.append("-- %s mariadb: %s" % (name, res.stdout.strip()))
        return "\n".join(out)

    def wait_for(self, predicate, timeout=60, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.5)
        raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))


def orchestration(stdout):
    """`salt-run state.orchestrate ... --out=json` output -> ``(steps, changed)``: the steps
    in run order (name, result, seconds, comment) and what changed on a re-run: every
    minion state with changes (`minion state-id`) and what a runner says it did (``acted``,
    galera_recover's). Runners print progress before the JSON: it starts at the first "{"
    line."""
    start = 0 if stdout.startswith("{") else stdout.index("\n{") + 1
    data = json.loads(stdout[start:])["data"]
    raw = next(iter(data.values()))
    steps, changed = [], []
    for key, step in sorted(raw.items(), key=lambda kv: kv[1].get("__run_num__", 0)):
        name = key.split("_|-")[1]
        steps.append({"name": name, "result": step.get("result"),
                      "seconds": round(step.get("duration", 0) / 1000.0, 1),
                      "comment": step.get("comment", "")})
        changes = step.get("changes") or {}
        for minion, states in (changes.get("ret") or {}).items():
            if isinstance(states, dict):
                for sid, state in states.items():
                    if isinstance(state, dict) and state.get("changes"):
                        changed.append("%s: %s %s" % (name, minion, sid.split("_|-")[1]))
        ret = changes.get("return")
        if isinstance(ret, dict):
            changed.extend("%s: %s" % (name, a) for a in ret.get("acted") or [])
    return steps, changed


def together(fun, items):
    """``fun(item)`` for every item at the same time (threads); returns when all are done."""
    import threading

    threads = [threading.Thread(target=fun, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def lab_session():
    """A pytest session fixture's body: `hastack lab up` (`--no-deploy` with
    HASTACK_LAB_NO_DEPLOY), yield a LabClient, then `hastack lab down` unless
    HASTACK_KEEP_LAB is set."""
    try:
        res = hastack("lab", "up", *(["--no-deploy"] if os.environ.get("HASTACK_LAB_NO_DEPLOY")
                                     else []))
        sys.stdout.write(res.stdout[-2000:])
        yield LabClient()
    finally:
        if not os.environ.get("HASTACK_KEEP_LAB"):
            hastack("lab", "down", check=False)


def add_diagnostics(report, when):
    """A pytest report of a failed setup or call gets a section with the lab's diagnostics
    (LabClient.diagnostics)."""
    if not (report.failed and when in ("setup", "call")):
        return
    try:
        text = LabClient().diagnostics()
    except Exception as exc:  # the failure itself matters more
        text = "unavailable: %r" % exc
    report.sections.append(("lab diagnostics", text))
