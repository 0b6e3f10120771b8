{#- Auto-healing on this node: the ha_health beacon reports problems to the master every
    second; the master's reactor (reactor/heal.sls) heals them. Applied last by orch.deploy,
    once everything is up, so a rollout's own restarts are not "healed". #}
hastack-heal-beacon:
  beacon.present:
    - name: ha_health
    - save: True
    - interval: 1

{#- The master heals this node from now on (hastack/heal.py: ROLLED_OUT_GRAIN); until this
    last step of orch.deploy, a node being added is the rollout's. #}
hastack-heal-rolled-out:
  grains.present:
    - name: hastack_healing
    - value: True
    - require:
      - beacon: hastack-heal-beacon
