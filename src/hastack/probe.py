"""An HTTP health probe of one node's own API (not the VIP), and waiting for it: what the
``ha_keystone`` and ``ha_neutron`` health functions and states share. No Salt."""

import time

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session


def health(url, timeout=2):
    """``GET url`` unauthenticated answers 200: ``{"ok", "url", "status", "seconds",
    "error"}``."""
    started = time.monotonic()
    out = {"ok": False, "url": url, "status": None, "error": None}
    try:
        resp = ks_session.Session().get(url, authenticated=False, raise_exc=False,
                                        timeout=timeout)
        out["status"] = resp.status_code
        out["ok"] = resp.status_code == 200
    except ks_exc.ClientException as exc:
        out["error"] = str(exc)
    out["seconds"] = round(time.monotonic() - started, 3)
    return out


def wait_healthy(url, timeout=60):
    """:func:`health` until it is ok or ``timeout`` seconds are up; returns the last."""
    deadline = time.monotonic() + float(timeout)
    while True:
        res = health(url)
        if res["ok"] or time.monotonic() >= deadline:
            return res
        time.sleep(0.5)


def healthy_state(name, res, timeout, unit):
    """The Salt state return for a health gate given :func:`wait_healthy`'s ``res``."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    if res["ok"]:
        ret["comment"] = "%s answers 200" % res["url"]
    else:
        ret.update(result=False, comment="%s did not answer 200 within %s s (last: %s); see "
                   "`journalctl -u %s` on this node"
                   % (res["url"], timeout, res["error"] or res["status"], unit))
    return ret
