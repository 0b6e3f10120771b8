"""MariaDB's start position, before each start of its unit (the ``ExecStartPre`` of
hastack's drop-in for Debian's ``mariadb.service``, from the ``galera`` state):

    python -m hastack.galera_prestart

Debian's unit runs ``galera_recovery`` before every start: a whole InnoDB start
(``mariadbd --wsrep-recover``), 1.2-1.7 s under the lab's load, and it writes the position
it finds to ``/run/mysqld/wsrep-start-position``, where the unit reads
``$_WSREP_START_POSITION``. Galera uses that position only after a crash (grastate.dat says
seqno -1; :func:`hastack.galera.start_position_needed`). This runs the same recovery then,
and otherwise writes an empty position: a start after a clean stop, and every bootstrap and
join of ``hastack.galera_recover`` (which writes each member's seqno first), goes straight to
mariadbd. Runs as the unit's user (mysql).
"""

import os
import subprocess
import sys

from hastack import galera

GRASTATE = "/var/lib/mysql/grastate.dat"
POSITION_FILE = "/run/mysqld/wsrep-start-position"
RECOVERY = "/usr/bin/galera_recovery"


def start_position(grastate=GRASTATE, recovery=RECOVERY):
    """The ``--wsrep_start_position=...`` option for mariadbd ("" when none is needed), or
    None when the recovery failed (its messages went to stderr: the unit's journal)."""
    try:
        with open(grastate) as f:
            text = f.read()
    except FileNotFoundError:
        text = None
    if not galera.start_position_needed(text) or not os.path.exists(recovery):
        return ""
    res = subprocess.run([recovery], stdout=subprocess.PIPE, text=True)
    return res.stdout.strip() if res.returncode == 0 else None


def main(grastate=GRASTATE, recovery=RECOVERY, position_file=POSITION_FILE):
    position = start_position(grastate, recovery)
    if position is None:
        return 1
    with open(position_file, "w") as f:
        f.write("_WSREP_START_POSITION=%s\n" % position)
    return 0


if __name__ == "__main__":
    sys.exit(main())
