{#- Cluster-wide RabbitMQ data, applied once on the seed: membership and users. #}
hastack-rabbitmq-membership:
  ha_rabbitmq.forgotten: []

hastack-rabbitmq-users:
  ha_rabbitmq.users_managed:
    - require:
      - ha_rabbitmq: hastack-rabbitmq-membership

hastack-rabbitmq-quorum-replicas:
  ha_rabbitmq.replicas_grown:
    - require:
      - ha_rabbitmq: hastack-rabbitmq-membership
