{#- DRBD on a storage node: each resource of hastack:drbd this node takes part in. The first
    node of a resource becomes Primary only on first creation; afterwards the role moves
    only by `salt-run hastack.drbd_failover` (or the reactor, after a node died), which read
    the rules in hastack/drbd.py. `salt-run hastack.drbd_up` then starts the service stack
    (mount, MariaDB, the service's address) on the Primary. #}
{%- set topo = salt['ha_topology.get']() %}
{%- set me = grains['id'] %}
{%- set resources = topo.get('drbd', {}).get('resources', {}) %}
{%- set mine = [] %}
{%- set ours = [] %}
{%- for name, res in resources | dictsort if me in res.nodes %}
{%- do mine.append(name) %}
{%- if res.get('manager', 'hastack') != 'pacemaker' %}{% do ours.append(name) %}{% endif %}
{%- endfor %}
{#- `ours`: the resources hastack moves. With `manager: pacemaker` Pacemaker's ocf:linbit:drbd
    brings the resource up, promotes it and runs the stack on top (hastack/drbd.py): no boot
    unit and no beacon here, so nothing of hastack's acts on it. #}

{#- DRBD runs it when it detects a split-brain (after-sb-* disconnect): the flag is what
    ha_drbd.status reports, and the runner refuses to promote while it is there. #}
hastack-drbd-split-brain-handler:
  file.managed:
    - name: /usr/local/lib/hastack/drbd-split-brain
    - mode: '0755'
    - makedirs: True
    - contents: |
        #!/bin/sh
        # Managed by hastack: DRBD found a split-brain on $DRBD_RESOURCE and disconnected.
        mkdir -p /var/lib/hastack/drbd
        date -u +%FT%TZ > "/var/lib/hastack/drbd/$DRBD_RESOURCE.split-brain"
        logger -t hastack-drbd "split-brain on $DRBD_RESOURCE: see salt-run hastack.drbd_status"

{#- Resources come up (as Secondary) at boot, so a node that returns resyncs by itself. #}
hastack-drbd-unit:
  file.managed:
    - name: /etc/systemd/system/hastack-drbd@.service
    - contents: |
        # Managed by hastack: bring DRBD resource %i up (Secondary) at boot.
        [Unit]
        Description=hastack: DRBD resource %i up
        After=network-online.target systemd-modules-load.service
        Wants=network-online.target
        [Service]
        Type=oneshot
        RemainAfterExit=yes
        ExecStartPre=/sbin/modprobe drbd
        ExecStart=/bin/sh -c 'drbdadm status %i >/dev/null 2>&1 || drbdadm up %i'
        [Install]
        WantedBy=multi-user.target

{%- if resources.values() | selectattr('service', 'defined') | list %}
{#- The service runs only where the data is mounted: never started at boot. #}
hastack-drbd-service-not-at-boot:
  service.disabled:
    - names: {{ resources.values() | selectattr('service', 'defined') | map(attribute='service') | unique | list }}
{%- endif %}

{%- for name in mine %}

hastack-drbd-{{ name }}:
  ha_drbd.resource:
    - name: {{ name }}
    - require:
      - file: hastack-drbd-split-brain-handler

{%- set conf = salt['ha_drbd.service_config'](name) %}
{%- if conf %}

{#- On both nodes: whichever is promoted starts the service with its data on DRBD. #}
hastack-drbd-{{ name }}-service-config:
  file.managed:
    - name: {{ conf.path }}
    - contents: {{ conf.text | json }}
{%- endif %}

hastack-drbd-{{ name }}-at-boot:
{%- if name in ours %}
  service.enabled:
{%- else %}
  service.disabled:
{%- endif %}
    - name: hastack-drbd@{{ name }}
    - require:
      - file: hastack-drbd-unit
      - ha_drbd: hastack-drbd-{{ name }}
{%- endfor %}

{%- if ours %}

hastack-drbd-beacon:
  beacon.present:
    - name: ha_drbd
    - save: True
    - interval: 1
    - resources:
{%- for name in ours %}
{%- set res = resources[name] %}
        {{ name }}:
          minor: {{ res.device | replace('/dev/drbd', '') | int }}
          peers: {{ res.nodes | reject('equalto', me) | list | tojson }}
{%- endfor %}
{%- elif mine %}

{#- Every resource of this node is Pacemaker's: no beacon asks the reactor to promote. #}
hastack-drbd-beacon:
  beacon.absent:
    - name: ha_drbd
    - save: True
{%- endif %}
