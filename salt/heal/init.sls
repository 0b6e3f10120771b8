{#- Auto-healing on this node: the ha_health beacon reports problems to the master every
    second; the master's reactor (reactor/heal.sls) heals them. Applied last by orch.deploy,
    once everything is up, so a rollout's own restarts are not "healed". #}
hastack-heal-beacon:
  beacon.present:
    - name: ha_health
    - save: True
    - interval: 1
