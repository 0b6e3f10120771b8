{#- Cluster-wide RabbitMQ data, applied once on the seed: membership, users, and the quorum
    queues' replicas on every member (rabbitmq.replicas). #}
include:
  - rabbitmq.replicas

hastack-rabbitmq-membership:
  ha_rabbitmq.forgotten: []

hastack-rabbitmq-users:
  ha_rabbitmq.users_managed:
    - require:
      - ha_rabbitmq: hastack-rabbitmq-membership

extend:
  hastack-rabbitmq-quorum-replicas:
    ha_rabbitmq:
      - require:
        - ha_rabbitmq: hastack-rabbitmq-membership
