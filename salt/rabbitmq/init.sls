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

{#- A crashed RabbitMQ restarts after 1 s, not the package's 10 s (issue 7: a crashed service
    back in seconds). Not watched by the service: a changed drop-in applies from the next
    crash, and no deploy restarts every broker at once for it. #}
hastack-rabbitmq-restart-soon:
  file.managed:
    - name: /etc/systemd/system/rabbitmq-server.service.d/hastack-restart.conf
    - makedirs: True
    - contents: |
        # Managed by hastack: restart a crashed broker after 1 s (the package waits 10 s).
        [Service]
        RestartSec=1

hastack-rabbitmq-restart-soon-loaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: hastack-rabbitmq-restart-soon

