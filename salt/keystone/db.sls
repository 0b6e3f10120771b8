{#- Keystone's database and user, made on one Galera node of the Primary component (Galera
    replicates them). The user may connect from the nodes' subnet: haproxy on whichever load
    balancer holds the database VIP opens the connection. #}
{%- set db = salt['ha_keystone.database_spec']() %}

hastack-keystone-db:
  ha_galera.database:
    - name: {{ db.name }}
    - user: {{ db.user }}
    - password_secret: keystone_db_password
    - host: {{ db.host }}
