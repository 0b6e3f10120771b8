{#- Every quorum queue has a replica on every running member. RabbitMQ (3.10: the
    `quorum_cluster_size` default of 3) gives a new quorum queue at most three replicas and
    never adds a member that joins later, so this runs right after the join (rabbitmq.cluster)
    and again at the end of orch.deploy, once the services that declare queues (Neutron's
    per-host queues on a new controller) have started. #}
hastack-rabbitmq-quorum-replicas:
  ha_rabbitmq.replicas_grown: []
