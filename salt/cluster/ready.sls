{#- Quorate, with every member online and a DC elected, as this node sees it (waits). #}
hastack-cluster-ready:
  ha_cluster.ready:
    - timeout: 120
