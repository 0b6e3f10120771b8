{#- salt-run state.orchestrate orch.deploy: the ordered rollout from the topology pillar.
    Each step requires the one before it, so a failure stops the rollout where it happened.
    Service layers (VIPs and load balancers, Galera, RabbitMQ, Keystone...) join here as their
    issues land. #}
{%- set nodes = salt['pillar.get']('hastack:nodes', {}).keys() | list %}

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
