{#- Lab only: a plain HTTP backend on each node's own address (the `echo` service in the lab's
    topology) so the load-balancing layer can be exercised before any OpenStack API exists.
    GET / answers 200 with the node's name. #}
{%- set svc = salt['pillar.get']('hastack:services:echo') %}
{%- set me = salt['ha_topology.node']() %}

lab-echo-root:
  file.managed:
    - name: /srv/echo/index.html
    - makedirs: True
    - contents: {{ grains['id'] }}

lab-echo-unit:
  file.managed:
    - name: /etc/systemd/system/lab-echo.service
    - contents: |
        [Unit]
        Description=hastack lab HTTP echo backend
        After=network-online.target
        [Service]
        ExecStart=/usr/bin/python3 -m http.server {{ svc.port }} --bind {{ me.address }} --directory /srv/echo
        Restart=always
        RestartSec=1
        [Install]
        WantedBy=multi-user.target

lab-echo-enabled:
  service.enabled:
    - name: lab-echo
    - require:
      - file: lab-echo-unit

lab-echo:
  service.running:
    - name: lab-echo
    - require:
      - service: lab-echo-enabled
      - file: lab-echo-root
    - watch:
      - file: lab-echo-unit
{#- The lab's Pacemaker cluster (hastack:cluster, layout.lab_cluster) carries a unit of the
    same kind on its VIP: installed on every member, never enabled or started here —
    Pacemaker starts it where the VIP is (systemd:lab-vip-echo). GET / answers the node's
    name, so a client sees where it runs. #}
{%- set vip = salt['pillar.get']('hastack:cluster:resources:lab-vip:vip') %}
{%- if vip %}

lab-vip-echo-unit:
  file.managed:
    - name: /etc/systemd/system/lab-vip-echo.service
    - contents: |
        [Unit]
        Description=hastack lab HTTP echo on the Pacemaker VIP (started by Pacemaker only)
        [Service]
        ExecStart=/usr/bin/python3 -m http.server {{ svc.port }} --bind {{ vip }} --directory /srv/echo

lab-vip-echo-reload:
  module.run:
    - service.systemctl_reload: []
    - onchanges:
      - file: lab-vip-echo-unit
{%- endif %}
