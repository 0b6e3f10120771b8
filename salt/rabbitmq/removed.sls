{#- A node that left the pillar's RabbitMQ members: stopped, not started at boot, and its
    data discarded, so the others can forget it and it can come back later as a new member. #}
hastack-rabbitmq-removed:
  service.dead:
    - name: rabbitmq-server
    - enable: False

hastack-rabbitmq-removed-data:
  file.absent:
    - name: /var/lib/rabbitmq/mnesia
    - require:
      - service: hastack-rabbitmq-removed
