{#- Galera on a member node: config, data ownership, the health endpoint. It never starts
    MariaDB itself: which node bootstraps and the order of joins are decided across the
    cluster by `salt-run hastack.galera_recover` (orch.deploy calls it next). #}
{%- set svc = salt['pillar.get']('hastack:services:galera') %}
{%- set me = salt['ha_topology.node']() %}
{%- set check = svc.get('check', {}) %}

{#- Debian enables socket activation on *:3306, which would take the port haproxy binds on
    the database VIP. MariaDB binds this node's own address instead. #}
hastack-galera-no-socket-activation:
  service.dead:
    - name: mariadb.socket
    - enable: False

{%- if svc.get('sst_method', 'rsync') == 'mariabackup' %}
hastack-galera-sst-tools:
  pkg.installed:
    - pkgs: [mariadb-backup, socat]
    - refresh: {{ salt['pillar.get']('hastack:common:pkg_refresh', True) }}
{%- endif %}

hastack-galera-config:
  ha_galera.configured: []

{#- rsync SST fails when the data belongs to root (shared LAB-NOTES). Debian's unit runs
    mariadb-upgrade as root after every start, which leaves a root-owned mysql_upgrade_info:
    harmless, and not a reason for a deploy to report a change. #}
hastack-galera-datadir:
  file.directory:
    - name: /var/lib/mysql
    - user: mysql
    - group: mysql

hastack-galera-datadir-owner:
  cmd.run:
    - name: chown -R mysql:mysql /var/lib/mysql
    - onlyif: test -n "$(find /var/lib/mysql ! -user mysql ! -name mysql_upgrade_info -print -quit)"
    - require:
      - file: hastack-galera-datadir

{#- Start at boot: a node that reboots alone rejoins by itself. After a full outage the
    nodes cannot form a Primary alone; galera_recover brings the cluster back. #}
hastack-galera-enabled:
  service.enabled:
    - name: mariadb

{#- A crashed MariaDB (Restart=on-abnormal: a signal, not a clean stop) restarts after 1 s,
    not the package's 5 s; it rejoins by IST. galera_recover starts MariaDB with systemctl,
    so the drop-in is loaded here, without touching a running server. #}
hastack-galera-restart-soon:
  file.managed:
    - name: /etc/systemd/system/mariadb.service.d/hastack-restart.conf
    - makedirs: True
    - contents: |
        # Managed by hastack: restart a crashed MariaDB after 1 s (the package waits 5 s).
        [Service]
        RestartSec=1

{#- Debian's unit recovers the position from InnoDB (galera_recovery) before every start;
    Galera uses it only after a crash (hastack/galera_prestart.py). The drop-in replaces
    the package's one ExecStartPre, which does only that (mariadb 10.11, bookworm). #}
hastack-galera-start-position:
  file.managed:
    - name: /etc/systemd/system/mariadb.service.d/hastack-start-position.conf
    - makedirs: True
    - contents: |
        # Managed by hastack: recover the start position from InnoDB only after a crash
        # (grastate.dat seqno -1), the only time Galera uses it.
        [Service]
        ExecStartPre=
        ExecStartPre={{ grains['pythonexecutable'] }} -m hastack.galera_prestart

hastack-galera-restart-soon-loaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: hastack-galera-restart-soon
      - file: hastack-galera-start-position

hastack-galera-health-unit:
  file.managed:
    - name: /etc/systemd/system/hastack-galera-health.service
    - contents: |
        # Managed by hastack: 200 only when this node is Synced and Primary (haproxy checks it).
        [Unit]
        Description=hastack Galera health endpoint
        After=network-online.target
        [Service]
        ExecStart={{ grains['pythonexecutable'] }} -m hastack.galera_health --bind {{ me.address }} --port {{ check.get('port', 9200) }}
        Restart=always
        RestartSec=1
        [Install]
        WantedBy=multi-user.target

hastack-galera-health-enabled:
  service.enabled:
    - name: hastack-galera-health
    - require:
      - file: hastack-galera-health-unit

hastack-galera-health:
  service.running:
    - name: hastack-galera-health
    - require:
      - service: hastack-galera-health-enabled
    - watch:
      - file: hastack-galera-health-unit
