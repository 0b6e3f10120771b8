{#- What every Neutron node has: the neutron user and group, the venv, the state directory. #}
hastack-neutron-group:
  group.present:
    - name: neutron
    - system: True

hastack-neutron-user:
  user.present:
    - name: neutron
    - system: True
    - gid: neutron
    - home: /var/lib/neutron
    - createhome: False
    - shell: /usr/sbin/nologin
    - require:
      - group: hastack-neutron-group

hastack-neutron-venv:
  ha_neutron.installed: []

hastack-neutron-state-dir:
  file.directory:
    - name: /var/lib/neutron
    - user: neutron
    - group: neutron
    - mode: '0750'
    - require:
      - user: hastack-neutron-user
