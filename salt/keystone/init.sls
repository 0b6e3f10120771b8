{#- Keystone on a controller: its venv, user, config and keys, the database schema (once),
    the service, and a health gate: the state fails unless this node answers GET /v3.
    orch.deploy applies it to the first Keystone node, bootstraps there, then to the others.
    What each setting does and why is in hastack/keystone.py. #}

hastack-keystone-group:
  group.present:
    - name: keystone
    - system: True

hastack-keystone-user:
  user.present:
    - name: keystone
    - system: True
    - gid: keystone
    - home: /var/lib/keystone
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: hastack-keystone-group

hastack-keystone-venv:
  ha_keystone.installed: []

{%- for dir in ['/etc/keystone', '/etc/keystone/fernet-keys', '/etc/keystone/credential-keys'] %}
hastack-keystone-dir-{{ dir }}:
  file.directory:
    - name: {{ dir }}
    - user: root
    - group: keystone
    - mode: '0750'
    - require:
      - group: hastack-keystone-group
{%- endfor %}

hastack-keystone-config:
  ha_keystone.configured:
    - require:
      - ha_keystone: hastack-keystone-venv
      - user: hastack-keystone-user
      - file: hastack-keystone-dir-/etc/keystone/fernet-keys
      - file: hastack-keystone-dir-/etc/keystone/credential-keys

{#- Only when the schema is behind (`--check` exits non-zero): a second run does nothing. #}
hastack-keystone-db-sync:
  cmd.run:
    - name: /opt/keystone/bin/keystone-manage db_sync
    - unless: /opt/keystone/bin/keystone-manage db_sync --check
    - require:
      - ha_keystone: hastack-keystone-config

hastack-keystone-enabled:
  service.enabled:
    - name: keystone
    - require:
      - ha_keystone: hastack-keystone-config

hastack-keystone:
  service.running:
    - name: keystone
    - require:
      - service: hastack-keystone-enabled
      - cmd: hastack-keystone-db-sync
    - watch:
      - ha_keystone: hastack-keystone-config

hastack-keystone-healthy:
  ha_keystone.healthy:
    - require:
      - service: hastack-keystone
