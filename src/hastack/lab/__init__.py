"""The lab: real Debian machines on one host (systemd-nspawn containers on a private bridge)
with a salt-master on the host and a minion in every node. A separate part of hastack: the
product never imports it."""
