"""Checked file replacement: diff in changes, test mode writes nothing, a refused config
never replaces the one in use."""

import os
import subprocess

import pytest

from hastack import files


def check_ok(argv, **kw):
    return subprocess.CompletedProcess(argv, 0, "", "")


def check_refuses(argv, **kw):
    return subprocess.CompletedProcess(argv, 1, "", "[ALERT] parsing: unknown keyword 'bogus'")


@pytest.mark.parametrize("test", [False, True])
def test_new_file_is_reported_and_written_unless_test(tmp_path, test):
    path = str(tmp_path / "etc" / "x.cfg")
    ret = files.converge("x", {path: ("a\n", 0o640, None)}, test=test)
    assert ("+a" in ret["changes"][path]) and ret["result"] is (None if test else True)
    assert os.path.exists(path) is (not test)
    if not test:
        assert oct(os.stat(path).st_mode & 0o777) == "0o640"


def test_up_to_date_files_report_no_changes(tmp_path):
    path = tmp_path / "x.cfg"
    path.write_text("a\n")
    os.chmod(path, 0o644)
    ret = files.converge("x", {str(path): ("a\n", 0o644, None)})
    assert ret == {"name": "x", "result": True, "changes": {},
                   "comment": "1 files already up to date"}


def test_refused_config_keeps_the_file_in_use(tmp_path):
    path = tmp_path / "haproxy.cfg"
    path.write_text("good\n")
    os.chmod(path, 0o640)
    ret = files.converge("haproxy", {str(path): ("bogus\n", 0o640, ["haproxy", "-c", "-f",
                                                                     "{path}"])},
                         run=check_refuses)
    assert ret["result"] is False and ret["changes"] == {}
    assert "unknown keyword 'bogus'" in ret["comment"]
    assert path.read_text() == "good\n"
    assert sorted(os.listdir(tmp_path)) == ["haproxy.cfg"]


def test_checker_sees_the_candidate_not_the_target(tmp_path):
    seen = []

    def check(argv, **kw):
        seen.append(argv)
        with open(argv[-1]) as f:
            assert f.read() == "new\n"
        return check_ok(argv)

    path = str(tmp_path / "k.conf")
    ret = files.converge("k", {path: ("new\n", 0o640, ["keepalived", "-t", "-f", "{path}"])},
                         run=check)
    assert ret["result"] is True and seen == [["keepalived", "-t", "-f", path + ".hastack-new"]]
    assert open(path).read() == "new\n"


def test_mode_only_change(tmp_path):
    path = tmp_path / "s"
    path.write_text("x")
    os.chmod(path, 0o644)
    ret = files.converge("s", {str(path): ("x", 0o755, None)})
    assert ret["changes"] == {str(path): "mode 0o644 -> 0755"}
    assert os.stat(path).st_mode & 0o777 == 0o755


def test_systemd_paths_need_a_daemon_reload():
    assert files.touches_systemd_units({"/etc/systemd/system/haproxy.service.d/x.conf": ""})
    assert not files.touches_systemd_units({"/etc/haproxy/haproxy.cfg": ""})


def test_group_ownership_is_part_of_the_wanted_state(tmp_path):
    import grp
    import os as _os

    group = grp.getgrgid(_os.getgid()).gr_name
    path = str(tmp_path / "private.cnf")
    ret = files.converge("g", {path: ("secret\n", 0o640, None, group)})
    assert ret["result"] is True and path in ret["changes"]
    assert _os.stat(path).st_gid == _os.getgid()
    assert files.converge("g", {path: ("secret\n", 0o640, None, group)})["changes"] == {}
