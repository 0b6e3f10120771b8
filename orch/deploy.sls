{#- salt-run state.orchestrate orch.deploy: the ordered rollout from the topology pillar.
    Each step requires the one before it and waits for its health, so a failure stops the
    rollout at the step that failed. Service layers join here as they land. #}
{%- set topo = salt['pillar.get']('hastack', {}) %}
{%- set nodes = topo.get('nodes', {}).keys() | list %}
{%- set lb = salt['ha_topology.lb_nodes']() %}

hastack-validate:
  salt.runner:
    - name: hastack.validate
    - failhard: True

hastack-common:
  salt.state:
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: common
    - failhard: True
    - require:
      - salt: hastack-validate

{%- if topo.get('vips') %}

hastack-loadbalancer:
  salt.state:
    - tgt: {{ lb | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: loadbalancer
    - failhard: True
    - require:
      - salt: hastack-common

hastack-vips-held:
  salt.runner:
    - name: hastack.vips
    - wait: 30
    - failhard: True
    - require:
      - salt: hastack-loadbalancer
{%- endif %}
{%- set galera = topo.get('services', {}).get('galera') %}
{%- if galera %}

hastack-galera:
  salt.state:
    - tgt: {{ galera.nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: galera
    - failhard: True
    - require:
      - salt: hastack-common

{#- Bootstraps one node and joins the others one at a time, each waiting for Synced; on a
    second run it finds the Primary component and changes nothing. #}
hastack-galera-up:
  salt.runner:
    - name: hastack.galera_recover
    - failhard: True
    - require:
      - salt: hastack-galera
{%- endif %}
