"""
The node side of hastack's auto-healing: the master's ``hastack.heal`` runner calls these
(the rules are :mod:`hastack.heal`; the ``ha_health`` beacon reports the problems).
"""

import subprocess
import time

# systemd is in the middle of something: let it finish before deciding.
TRANSITIONAL = ("activating", "deactivating", "reloading")

__virtualname__ = "ha_heal"


def __virtual__():
    return __virtualname__


def _active(unit):
    res = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True,
                         timeout=30)
    return res.stdout.strip()


def ensure_running(unit, settle=30, restart_starting=True):
    """
    Start ``unit`` if it is not running, in one call (no restart when it runs: somebody
    fixed it in the meantime). A unit systemd is starting or stopping is given ``settle``
    seconds to finish first. ``{"was", "restarted", "active", "comment"}``.

    restart_starting
        False: a unit still starting after ``settle`` is left to its own start timeout, not
        restarted (MariaDB: a joiner's state transfer takes as long as it takes, and a
        joining mariadbd ignores the stop a restart begins with).

    CLI Example:

    .. code-block:: bash

        salt ctl2 ha_heal.ensure_running keystone
        salt ctl2 ha_heal.ensure_running mariadb restart_starting=False
    """
    was = _active(unit)
    deadline = time.monotonic() + settle
    while was in TRANSITIONAL and time.monotonic() < deadline:
        time.sleep(0.2)
        was = _active(unit)
    if was == "active":
        return {"was": was, "restarted": False, "active": True,
                "comment": "%s was already active" % unit}
    if was == "activating" and not restart_starting:
        return {"was": was, "restarted": False, "active": False,
                "comment": "%s still starting after %d s; left to finish" % (unit, settle)}
    # reset-failed first: a unit that hit its start limit refuses a plain restart.
    subprocess.run(["systemctl", "reset-failed", unit], capture_output=True, timeout=30)
    res = subprocess.run(["systemctl", "restart", unit], capture_output=True, text=True,
                         timeout=300)
    now = _active(unit)
    return {"was": was, "restarted": True, "active": now == "active",
            "comment": "%s was %s; restarted: %s%s" % (
                unit, was, now, (": " + res.stderr.strip()[-500:]) if res.returncode else "")}
