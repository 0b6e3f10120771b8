"""The ExecStartPre of MariaDB's unit: Debian's position recovery only after a crash."""

import os
import stat

from hastack import galera, galera_prestart

U1 = "2dbf1857-f2a2-11f1-a878-1390e1f5cbde"


def recovery(tmp_path, out, code=0):
    """A stand-in for /usr/bin/galera_recovery that records each run."""
    script = tmp_path / "galera_recovery"
    script.write_text("#!/bin/sh\necho run >> %s\necho 'WSREP: Recovered position %s' >&2\n"
                      "echo '%s'\nexit %d\n" % (tmp_path / "runs", out, out, code))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def runs(tmp_path):
    path = tmp_path / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def prestart(tmp_path, grastate_text, code=0):
    grastate = tmp_path / "grastate.dat"
    if grastate_text is not None:
        grastate.write_text(grastate_text)
    position = tmp_path / "wsrep-start-position"
    rc = galera_prestart.main(str(grastate), recovery(tmp_path, "--wsrep_start_position=%s:77"
                                                      % U1, code), str(position))
    return rc, position.read_text() if position.exists() else None


def test_after_a_clean_stop_no_recovery_and_an_empty_position(tmp_path):
    rc, written = prestart(tmp_path, galera.render_grastate(U1, 1234, False))
    assert (rc, written, runs(tmp_path)) == (0, "_WSREP_START_POSITION=\n", 0)


def test_after_a_crash_the_recovered_position(tmp_path):
    rc, written = prestart(tmp_path, galera.render_grastate(U1, -1, False))
    assert rc == 0 and runs(tmp_path) == 1
    assert written == "_WSREP_START_POSITION=--wsrep_start_position=%s:77\n" % U1


def test_no_grastate_recovers_as_debian_does(tmp_path):
    rc, written = prestart(tmp_path, None)
    assert rc == 0 and runs(tmp_path) == 1 and "%s:77" % U1 in written


def test_a_failed_recovery_fails_the_start_and_writes_nothing(tmp_path):
    rc, written = prestart(tmp_path, galera.render_grastate(U1, -1, False), code=1)
    assert (rc, written) == (1, None)


def test_without_galera_recovery_the_position_is_empty(tmp_path):
    (tmp_path / "grastate.dat").write_text(galera.render_grastate(U1, -1, False))
    assert galera_prestart.start_position(str(tmp_path / "grastate.dat"),
                                          os.path.join(str(tmp_path), "absent")) == ""
