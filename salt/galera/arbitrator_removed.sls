{#- A node that is not (or no longer) the Galera arbitrator: garbd stopped and not started
    at boot. Harmless where galera-arbitrator-4 is not installed. #}
hastack-garb-removed:
  service.dead:
    - name: garb
    - enable: False
