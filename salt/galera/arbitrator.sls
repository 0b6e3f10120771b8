{#- The Galera arbitrator (hastack:services:galera:arbitrator): garbd, a vote without data,
    so an even number of members keeps a majority when half of them fail. Applied after the
    members are up (it joins their group). hastack/galera.py renders its config. #}
hastack-garb-package:
  pkg.installed:
    - name: galera-arbitrator-4
    - refresh: {{ salt['pillar.get']('hastack:common:pkg_refresh', True) }}

hastack-garb-config:
  file.managed:
    - name: /etc/default/garb
    - contents: {{ salt['ha_galera.render_arbitrator']() | yaml_encode }}
    - require:
      - pkg: hastack-garb-package

hastack-garb-restart-always:
  file.managed:
    - name: /etc/systemd/system/garb.service.d/hastack.conf
    - makedirs: True
    - contents: |
        # Managed by hastack: garbd exits when it loses the cluster; it keeps trying to come back.
        [Unit]
        StartLimitIntervalSec=0
        [Service]
        Restart=always
        RestartSec=5

hastack-garb-enabled:
  service.enabled:
    - name: garb
    - require:
      - file: hastack-garb-config

hastack-garb:
  service.running:
    - name: garb
    - require:
      - service: hastack-garb-enabled
    - watch:
      - file: hastack-garb-config
      - file: hastack-garb-restart-always
