{#- The Keystone user Neutron's API checks tokens as (keystone_authtoken): neutron, with the
    admin role on the service project. The catalog step already names Neutron's VIP URL. #}
hastack-neutron-keystone-user:
  ha_keystone.service_user:
    - name: neutron
    - password_secret: neutron_service_password
