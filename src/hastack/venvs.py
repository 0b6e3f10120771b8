"""A service's own venv with pinned packages (Keystone's, Neutron's): what it lacks, and
installing it. Runs the venv's python and pip; no Salt."""

import json
import os
import subprocess

_VERSIONS = ("import importlib.metadata as m, json, sys\n"
             "out = {}\n"
             "for n in sys.argv[1:]:\n"
             "    try: out[n] = m.version(n)\n"
             "    except m.PackageNotFoundError: pass\n"
             "print(json.dumps(out))")


def _split(req):
    name, version = req.split("==")
    return name.lower(), version


def installed_versions(venv, reqs):
    """``{name: version}`` of the pinned packages ``reqs`` present in ``venv``."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        return {}
    res = subprocess.run([python, "-c", _VERSIONS] + [r.split("==")[0] for r in reqs],
                         capture_output=True, text=True, timeout=60)
    return json.loads(res.stdout) if res.returncode == 0 else {}


def missing(venv, reqs):
    """The pins of ``reqs`` that ``venv`` lacks or has at another version; empty: complete."""
    have = {k.lower(): v for k, v in installed_versions(venv, reqs).items()}
    return [r for r in reqs if have.get(_split(r)[0]) != _split(r)[1]]


def install(venv, reqs):
    """Create ``venv`` if needed and pip-install ``reqs`` into it (from the index this host's
    pip is configured for): ``{"result", "comment"}``."""
    steps = []
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        steps.append(["python3", "-m", "venv", venv])
    steps.append([os.path.join(venv, "bin", "pip"), "install", "-q"] + list(reqs))
    for argv in steps:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if res.returncode != 0:
            return {"result": False, "comment": "%s failed: %s" % (
                " ".join(argv[:3]), (res.stderr or res.stdout).strip()[-2000:])}
    return {"result": True, "comment": "installed %s" % " ".join(reqs)}


def converge(name, venv, reqs, test=False):
    """A Salt state return for "``venv`` holds the pins ``reqs``": installs what is missing
    (``test``: says what it would)."""
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    lacking = missing(venv, reqs)
    if not lacking:
        ret["comment"] = "%s has the pinned packages" % venv
        return ret
    ret["changes"] = {"installed": lacking}
    if test:
        ret.update(result=None, comment="would install " + " ".join(lacking))
        return ret
    res = install(venv, reqs)
    ret.update(result=res["result"], comment=res["comment"])
    if not res["result"]:
        ret["changes"] = {}
    return ret
