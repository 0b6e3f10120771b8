{#- Phase one of a load-balancer rollout (orch.deploy applies `loadbalancer` right after, on
    the same nodes). keepalived.conf is written everywhere, but reloaded only where keepalived
    already runs: those nodes learn a new peer before it starts. A keepalived started first
    would hear no adverts (its peers do not send to it yet), take every VIP it may hold and
    leave them held twice until its peers reload. #}
hastack-keepalived-peers-config:
  ha_keepalived.configured: []

{%- if salt['service.status']('keepalived') %}

hastack-keepalived-peers-reload:
  service.running:
    - name: keepalived
    - reload: True
    - watch:
      - ha_keepalived: hastack-keepalived-peers-config
{%- endif %}
