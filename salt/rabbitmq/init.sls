{#- RabbitMQ on a member node: the shared cookie, config on the node's own address, the
    service. Joining the seed happens one node at a time from orch (rabbitmq.join). #}

hastack-rabbitmq-cookie:
  file.managed:
    - name: /var/lib/rabbitmq/.erlang.cookie
    - contents: {{ salt['pillar.get']('hastack:secrets:rabbitmq_cookie') | json }}
    - user: rabbitmq
    - group: rabbitmq
    - mode: '0400'
    - show_changes: False

hastack-rabbitmq-env:
  file.managed:
    - name: /etc/rabbitmq/rabbitmq-env.conf
    - contents: {{ salt['ha_rabbitmq.render_env']() | json }}

hastack-rabbitmq-config:
  file.managed:
    - name: /etc/rabbitmq/rabbitmq.conf
    - contents: {{ salt['ha_rabbitmq.render_config']() | json }}
    - group: rabbitmq
    - mode: '0640'

hastack-rabbitmq-enabled:
  service.enabled:
    - name: rabbitmq-server

hastack-rabbitmq:
  service.running:
    - name: rabbitmq-server
    - require:
      - service: hastack-rabbitmq-enabled
    - watch:
      - file: hastack-rabbitmq-cookie
      - file: hastack-rabbitmq-env
      - file: hastack-rabbitmq-config
