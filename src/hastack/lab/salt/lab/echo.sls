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
