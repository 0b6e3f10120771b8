{#- An ha_health beacon reported a problem (salt/beacon/<node>/ha_health/<kind>): the runner
    asks the nodes for a fresh view, decides by the rules in hastack/heal.py (damped per
    resource), acts and records it (salt-run hastack.heal_log). Beacon payloads are top-level
    in `data`. #}
hastack-heal-{{ data.get('kind', 'unknown') }}:
  runner.hastack.heal:
    - args:
      - data: {{ data | json }}
