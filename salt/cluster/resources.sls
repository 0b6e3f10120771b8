{#- Once, on one member: properties (stonith-enabled per the fencing choice, dc-deadtime),
    fence devices, resources and constraints as one crm batch, loaded only when the live
    CIB differs from the pillar. #}
hastack-cluster-resources:
  ha_cluster.resources: []
