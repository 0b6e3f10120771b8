{#- A network node's L3, DHCP and metadata agents. orch.deploy applies this to one network
    node at a time: the state restarts the agents only when another host keeps a live agent
    of every kind, and returns once each is alive with a started_at newer than the restart. #}
include:
  - neutron.common

hastack-neutron-agents:
  ha_neutron.agents_running:
    - require:
      - ha_neutron: hastack-neutron-venv
      - file: hastack-neutron-state-dir
