{#- Quorate, with every member online and a DC elected, as this node sees it (waits). #}
hastack-cluster-ready:
  ha_cluster.ready:
    - timeout: 120

{#- A member removed from the pillar (drained, stopped, out of corosync.conf) leaves
    Pacemaker's node list too. #}
hastack-cluster-forgotten:
  ha_cluster.forgotten:
    - require:
      - ha_cluster: hastack-cluster-ready
