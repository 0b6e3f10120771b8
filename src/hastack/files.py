"""Config files that are checked before they replace the ones in use.

A state renders the files it wants, then :func:`converge` compares them with what is on disk,
reports a diff, and writes only what differs. A file with a check command (``haproxy -c``,
``keepalived -t``) is written beside its target first and checked there: if the check fails
the target keeps its current, working content and the state fails with the checker's words.
The return value is a Salt state return; there is no Salt in here.
"""

import difflib
import grp
import os
import subprocess


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def _mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return None


def _gid(group):
    return None if group is None else grp.getgrnam(group).gr_gid


def _group_ok(path, group):
    return group is None or os.stat(path).st_gid == _gid(group)


def _diff(path, old, new):
    return "".join(difflib.unified_diff((old or "").splitlines(True), new.splitlines(True),
                                        path + " (current)", path + " (new)"))


def _write(path, text, mode, group=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if group is not None:
        os.chown(path, -1, _gid(group))
    os.chmod(path, mode)


def converge(name, wanted, test=False, run=subprocess.run):
    """Bring files to their wanted content.

    ``wanted`` is ``{path: (text, mode, check)}`` or ``{path: (text, mode, check, group)}``
    where ``check`` is None or an argv with ``{path}`` standing for the file to check, and
    ``group`` the group that must own the file (a service that reads a private file). Returns a Salt state return whose ``changes``
    has a diff (or the mode change) per changed path.
    """
    ret = {"name": name, "result": True, "changes": {}, "comment": ""}
    pending = {}
    for path, spec in wanted.items():
        text, mode, check, group = (tuple(spec) + (None,))[:4]
        old = _read(path)
        if old == text and _mode(path) == mode and _group_ok(path, group):
            continue
        pending[path] = (text, mode, check, group)
        ret["changes"][path] = (_diff(path, old, text) if old != text
                                else "mode %s -> %04o%s" % (oct(_mode(path) or 0), mode,
                                                           ", group %s" % group if group
                                                           else ""))
    if not pending:
        ret["comment"] = "%d files already up to date" % len(wanted)
        return ret
    if test:
        ret["result"] = None
        ret["comment"] = "would update %s" % ", ".join(sorted(pending))
        return ret
    written = []
    for path, (text, mode, check, group) in sorted(pending.items()):
        if check:
            candidate = path + ".hastack-new"
            _write(candidate, text, mode, group)
            res = run([a.replace("{path}", candidate) for a in check], capture_output=True,
                      text=True)
            if res.returncode != 0:
                os.unlink(candidate)
                ret["result"] = False
                ret["changes"] = {p: ret["changes"][p] for p in written}
                ret["comment"] = ("%s refused %s, which was not installed (the file in use is "
                                  "unchanged): %s" % (check[0], path,
                                                      (res.stderr or res.stdout).strip()[-1500:]))
                return ret
            os.replace(candidate, path)
        else:
            _write(path, text, mode, group)
        written.append(path)
    ret["comment"] = "updated %s" % ", ".join(sorted(pending))
    return ret


def touches_systemd_units(changes):
    """True when a change wrote a unit or drop-in: systemd must reload before the next start."""
    return any(path.startswith(("/etc/systemd/system/", "/lib/systemd/system/"))
               for path in changes)
