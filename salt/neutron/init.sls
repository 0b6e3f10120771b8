{#- Neutron on a controller: the API (gunicorn), neutron-rpc-server and the periodic workers,
    all active/active behind haproxy on the VIP; the schema (upgraded only when behind:
    orch.deploy applies this to one controller at a time, so the first does it); and a
    health gate: the state fails unless this node's API answers GET /. A changed file
    restarts this node's Neutron units. What each setting does and why is in
    hastack/neutron.py. #}
include:
  - neutron.common

hastack-neutron-config:
  ha_neutron.configured:
    - require:
      - ha_neutron: hastack-neutron-venv
      - user: hastack-neutron-user

hastack-neutron-schema:
  ha_neutron.db_synced:
    - require:
      - ha_neutron: hastack-neutron-config
{%- for unit in ['neutron-api', 'neutron-rpc-server', 'neutron-periodic-workers'] %}

hastack-neutron-enabled-{{ unit }}:
  service.enabled:
    - name: {{ unit }}
    - require:
      - ha_neutron: hastack-neutron-config

hastack-neutron-{{ unit }}:
  service.running:
    - name: {{ unit }}
    - require:
      - service: hastack-neutron-enabled-{{ unit }}
      - file: hastack-neutron-state-dir
      - ha_neutron: hastack-neutron-schema
    - watch:
      - ha_neutron: hastack-neutron-config
{%- endfor %}

hastack-neutron-healthy:
  ha_neutron.healthy:
    - require:
      - service: hastack-neutron-neutron-api
