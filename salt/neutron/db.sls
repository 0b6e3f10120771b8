{#- Neutron's database and user, made on one Galera node of the Primary component (Galera
    replicates them), reachable from the nodes' subnet like Keystone's. #}
{%- set db = salt['ha_neutron.database_spec']() %}

hastack-neutron-db:
  ha_galera.database:
    - name: {{ db.name }}
    - user: {{ db.user }}
    - password_secret: neutron_db_password
    - host: {{ db.host }}
