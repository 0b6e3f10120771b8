{#- The service catalog: every API in the topology with its public, internal and admin
    endpoints on its VIP URL; an endpoint pointing elsewhere is put back. #}
hastack-keystone-catalog:
  ha_keystone.catalog: []
