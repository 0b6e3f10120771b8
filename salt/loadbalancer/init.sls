{#- The load-balancing layer on a load-balancer node: haproxy in front of every service with
    a VIP, keepalived moving the VIPs. Rendering and the reasons behind each setting live in
    hastack/loadbalancer.py. haproxy comes first: keepalived tracks it. #}

hastack-haproxy-config:
  ha_haproxy.configured: []

hastack-haproxy-enabled:
  service.enabled:
    - name: haproxy

hastack-haproxy:
  service.running:
    - name: haproxy
    - reload: True
    - require:
      - service: hastack-haproxy-enabled
    - watch:
      - ha_haproxy: hastack-haproxy-config

hastack-keepalived-config:
  ha_keepalived.configured:
    - require:
      - service: hastack-haproxy

hastack-keepalived-enabled:
  service.enabled:
    - name: keepalived

hastack-keepalived:
  service.running:
    - name: keepalived
    - reload: True
    - require:
      - service: hastack-keepalived-enabled
    - watch:
      - ha_keepalived: hastack-keepalived-config
