"""Running host commands for the lab: output to a log file, failures as LabError with its tail."""

import subprocess


class LabError(Exception):
    """A lab step failed; the message says which step and node, and shows the log's tail."""


def tail(path, lines=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def run(cmd, env=None, log=None, check=True, input=None):
    """Run ``cmd``; with ``log`` its output is appended there, else it is returned."""
    if log:
        with open(log, "a") as out:
            out.write("\n$ %s\n" % " ".join(cmd))
            out.flush()
            res = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                 input=input, text=True)
        if check and res.returncode != 0:
            raise LabError("%s exited %d; last lines of %s:\n%s"
                           % (" ".join(cmd[:3]), res.returncode, log, tail(log)))
        return ""
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, input=input)
    if check and res.returncode != 0:
        raise LabError("%s exited %d: %s" % (" ".join(cmd), res.returncode,
                                            (res.stderr or res.stdout).strip()[-2000:]))
    return res.stdout


def pidfile_argv(path):
    """``(pid, argv)`` of the process a pidfile names while it is alive, else ``(None, [])``.
    Callers check ``argv`` themselves: a PID may have been reused by another program."""
    try:
        with open(path) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return pid, f.read().split(b"\0")
    except (OSError, ValueError):
        return None, []
