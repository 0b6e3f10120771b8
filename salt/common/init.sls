{#- The floor every hastack node stands on: names, kernel settings, packages, time.
    Everything comes from the topology pillar (hastack:*) through ha_topology. #}
{%- set common = salt['pillar.get']('hastack:common', {}) %}

{%- for name, address in salt['ha_topology.hosts']().items() %}
hastack-hosts-{{ name }}:
  host.only:
    - name: {{ address }}
    - hostnames:
      - {{ name }}
{%- endfor %}

{#- net.ipv4.ip_nonlocal_bind lets haproxy bind a VIP this node does not hold (yet). #}
{%- for key, value in common.get('sysctl', {}).items() %}
hastack-sysctl-{{ key }}:
  sysctl.present:
    - name: {{ key }}
    - value: {{ value }}
    - config: /etc/sysctl.d/60-hastack.conf
{%- endfor %}

hastack-packages:
  pkg.installed:
    - pkgs: {{ salt['ha_topology.packages']() | json }}
    - refresh: {{ common.get('pkg_refresh', True) }}

{#- A container shares its host's clock and may not set it: time sync is the host's job
    (systemd-timesyncd refuses to run there: ConditionVirtualization=!container). #}
{%- set in_container = salt['cmd.retcode']('systemd-detect-virt --container --quiet',
                                           ignore_retcode=True) == 0 %}
{%- if common.get('timesync', True) and not in_container %}
hastack-timesync-enabled:
  service.enabled:
    - name: systemd-timesyncd
    - require:
      - pkg: hastack-packages

hastack-timesync:
  service.running:
    - name: systemd-timesyncd
    - require:
      - service: hastack-timesync-enabled
{%- endif %}

{#- The membership mark: what this node runs for this cluster. Once the pillar stops naming
    the node, salt-run hastack.drain_departed finds it by this grain and drains it. #}
hastack-mark:
  grains.present:
    - name: hastack
    - value: {{ salt['ha_topology.mark']() | json }}
    - force: True
