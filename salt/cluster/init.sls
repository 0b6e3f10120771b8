{#- Corosync and Pacemaker on a cluster member (hastack:cluster:nodes): corosync.conf from the
    topology and the shared authkey, both services enabled (a rebooted member rejoins) and
    running. A changed corosync.conf is reloaded in place (corosync-cfgtool -R), never by
    restarting every member at once. orch.deploy then waits for quorum (cluster.ready) and
    loads the resources once (cluster.resources). What each setting does and why is in
    hastack/cluster.py. #}
{%- set fencing = salt['pillar.get']('hastack:cluster:fencing') %}

hastack-cluster-packages:
  pkg.installed:
    - pkgs: {{ (['corosync', 'pacemaker', 'crmsh', 'resource-agents']
               + (['fence-agents'] if fencing is sequence and fencing is not string else []))
             | json }}
    - refresh: {{ salt['pillar.get']('hastack:common:pkg_refresh', True) }}

hastack-corosync-config:
  ha_cluster.configured:
    - require:
      - pkg: hastack-cluster-packages

{%- for svc in ['corosync', 'pacemaker'] %}

hastack-{{ svc }}-enabled:
  service.enabled:
    - name: {{ svc }}
    - require:
      - ha_cluster: hastack-corosync-config
{%- endfor %}

hastack-corosync:
  service.running:
    - name: corosync
    - require:
      - service: hastack-corosync-enabled

hastack-corosync-reload:
  cmd.run:
    - name: corosync-cfgtool -R
    - onchanges:
      - ha_cluster: hastack-corosync-config
    - require:
      - service: hastack-corosync

hastack-pacemaker:
  service.running:
    - name: pacemaker
    - require:
      - service: hastack-pacemaker-enabled
      - service: hastack-corosync
