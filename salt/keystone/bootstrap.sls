{#- Once, on the first Keystone node: the admin and the identity endpoints on the VIP.
    Skipped when the admin already gets a token. #}
hastack-keystone-bootstrap:
  ha_keystone.bootstrapped: []
