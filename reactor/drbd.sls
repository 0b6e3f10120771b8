{#- The ha_drbd beacon on a Secondary saw its Primary peer go away
    (salt/beacon/<survivor>/ha_drbd/peer-lost). The runner decides, by the rule in
    hastack/drbd.py (auto_promotion): promote the survivor only if the master no longer sees
    the old Primary AND the survivor's disk is UpToDate. Beacon payloads are top-level in
    `data`; events sent with event.send wrap them in data['data']. #}
{%- set d = data['data'] if data.get('data') is mapping else data %}
{%- if d.get('resource') %}
hastack-drbd-autopromote-{{ d['resource'] }}:
  runner.hastack.drbd_autopromote:
    - args:
      - resource: {{ d['resource'] }}
      - survivor: {{ data['id'] }}
      - lost: {{ d.get('peers', []) | join(',') }}
{%- endif %}
