hastack-rabbitmq-joined:
  ha_rabbitmq.clustered: []
