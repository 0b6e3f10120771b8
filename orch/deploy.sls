{#- salt-run state.orchestrate orch.deploy: the ordered rollout from the topology pillar.
    validate; drain the nodes that left the pillar; common; load balancers and VIPs; Galera
    (and its arbitrator); RabbitMQ; Keystone on one controller,
    then the others; the catalog; Neutron's controllers, then its network nodes one at a
    time. Each step requires the one before it and waits for its
    health, so a failure stops the rollout at the step that failed. A second run changes
    nothing. #}
{%- set topo = salt['pillar.get']('hastack', {}) %}
{%- set nodes = topo.get('nodes', {}).keys() | list %}
{%- set lb = salt['ha_topology.lb_nodes']() %}

hastack-validate:
  salt.runner:
    - name: hastack.validate
    - failhard: True

{#- The ha_* modules read the topology from the minions' pillar in memory, which a changed
    pillar does not reach until it is refreshed. #}
hastack-pillar-refresh:
  salt.function:
    - name: saltutil.refresh_pillar
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - kwarg:
        wait: True
    - failhard: True
    - require:
      - salt: hastack-validate

{#- A node the pillar no longer names is drained first (VIPs, haproxy, Pacemaker, RabbitMQ,
    Galera, Corosync: hastack/membership.py), while the others still count it as a member;
    a node that stays but left hastack:cluster:nodes leaves Pacemaker and Corosync. #}
hastack-drain-departed:
  salt.runner:
    - name: hastack.drain_departed
    - failhard: True
    - require:
      - salt: hastack-pillar-refresh

hastack-common:
  salt.state:
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: common
    - failhard: True
    - require:
      - salt: hastack-drain-departed

{%- if topo.get('vips') %}

{#- keepalived's peers first, where it runs (a new load balancer must not start before its
    peers send it adverts: salt/loadbalancer/peers.sls), then the whole layer everywhere. #}
hastack-loadbalancer-peers:
  salt.state:
    - tgt: {{ lb | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: loadbalancer.peers
    - failhard: True
    - require:
      - salt: hastack-common

hastack-loadbalancer:
  salt.state:
    - tgt: {{ lb | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: loadbalancer
    - failhard: True
    - require:
      - salt: hastack-loadbalancer-peers

hastack-vips-held:
  salt.runner:
    - name: hastack.vips
    - wait: 30
    - failhard: True
    - require:
      - salt: hastack-loadbalancer
{%- endif %}
{%- set galera = topo.get('services', {}).get('galera') %}
{%- if galera %}

hastack-galera:
  salt.state:
    - tgt: {{ galera.nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: galera
    - failhard: True
    - require:
      - salt: hastack-common

{#- Bootstraps one node and joins the others one at a time, each waiting for Synced; on a
    second run it finds the Primary component and changes nothing. #}
hastack-galera-up:
  salt.runner:
    - name: hastack.galera_recover
    - failhard: True
    - require:
      - salt: hastack-galera
{%- set arbitrator = galera.get('arbitrator') %}
{%- set not_arbitrator = nodes | reject('in', galera.nodes + [arbitrator]) | list %}
{%- if arbitrator %}

{#- garbd joins the members' group once they are up: a vote, no data. #}
hastack-galera-arbitrator:
  salt.state:
    - tgt: {{ arbitrator }}
    - sls: galera.arbitrator
    - failhard: True
    - require:
      - salt: hastack-galera-up
{%- endif %}
{%- if not_arbitrator %}

{#- A node that was the arbitrator and no longer is stops garbd (a clean leave). #}
hastack-galera-arbitrator-elsewhere:
  salt.state:
    - tgt: {{ not_arbitrator | join(',') }}
    - tgt_type: list
    - sls: galera.arbitrator_removed
    - failhard: True
    - require:
      - salt: hastack-galera-up
{%- endif %}
{%- endif %}
{%- set rabbit = topo.get('services', {}).get('rabbitmq') %}
{%- if rabbit %}
{%- set others = topo.get('nodes', {}).keys() | reject('in', rabbit.nodes) | list %}

{#- Nodes that left the pillar's RabbitMQ members stop it and drop its data, so the others
    can forget them. #}
{%- if others %}
hastack-rabbitmq-stopped-elsewhere:
  salt.state:
    - tgt: {{ others | join(',') }}
    - tgt_type: list
    - sls: rabbitmq.removed
    - failhard: True
    - require:
      - salt: hastack-common
{%- endif %}

hastack-rabbitmq:
  salt.state:
    - tgt: {{ rabbit.nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: rabbitmq
    - failhard: True
    - require:
      - salt: hastack-common
{%- for node in rabbit.nodes[1:] %}

hastack-rabbitmq-join-{{ node }}:
  salt.state:
    - tgt: {{ node }}
    - sls: rabbitmq.join
    - failhard: True
    - require:
      - salt: hastack-rabbitmq
      {%- if not loop.first %}
      - salt: hastack-rabbitmq-join-{{ rabbit.nodes[loop.index0] }}
      {%- endif %}
{%- endfor %}

hastack-rabbitmq-cluster:
  salt.state:
    - tgt: {{ rabbit.nodes[0] }}
    - sls: rabbitmq.cluster
    - failhard: True
    - require:
      - salt: hastack-rabbitmq
      {%- if others %}
      - salt: hastack-rabbitmq-stopped-elsewhere
      {%- endif %}
      {%- for node in rabbit.nodes[1:] %}
      - salt: hastack-rabbitmq-join-{{ node }}
      {%- endfor %}
{%- endif %}

{#- Last, once every layer is up: the health beacon on every node, so the master's reactor
    heals what breaks from now on (and not the rollout's own restarts). #}
hastack-healing:
  salt.state:
    - tgt: {{ nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: heal
    - failhard: True
    - order: last
    - require:
      - salt: hastack-common

{%- set keystone = topo.get('services', {}).get('keystone') %}
{%- if keystone and galera %}
{%- set ks_first = keystone.nodes[0] %}
{%- set ks_others = keystone.nodes[1:] %}

{#- Its database and user, on a node of the Primary component. #}
hastack-keystone-db:
  salt.state:
    - tgt: {{ galera.nodes[0] }}
    - sls: keystone.db
    - failhard: True
    - require:
      - salt: hastack-galera-up
      {%- if rabbit %}
      - salt: hastack-rabbitmq-cluster
      {%- endif %}

{#- One controller first: it makes the schema, then bootstraps the admin and the identity
    endpoints on the VIP. Each Keystone step ends with the node answering GET /v3. #}
hastack-keystone-first:
  salt.state:
    - tgt: {{ ks_first }}
    - sls: keystone
    - failhard: True
    - require:
      - salt: hastack-keystone-db

hastack-keystone-bootstrap:
  salt.state:
    - tgt: {{ ks_first }}
    - sls: keystone.bootstrap
    - failhard: True
    - require:
      - salt: hastack-keystone-first
{%- if ks_others %}

hastack-keystone-others:
  salt.state:
    - tgt: {{ ks_others | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: keystone
    - failhard: True
    - require:
      - salt: hastack-keystone-bootstrap
{%- endif %}

{#- Through the VIP: every API's endpoints name the load balancer, never a node. #}
hastack-keystone-catalog:
  salt.state:
    - tgt: {{ ks_first }}
    - sls: keystone.catalog
    - failhard: True
    - require:
      - salt: {{ 'hastack-keystone-others' if ks_others else 'hastack-keystone-bootstrap' }}
      {%- if topo.get('vips') %}
      - salt: hastack-vips-held
      {%- endif %}
{%- endif %}

{%- set neutron_svc = topo.get('services', {}).get('neutron') %}
{%- if neutron_svc and keystone and galera %}
{%- set nt_agents = salt['ha_topology.neutron_agent_nodes']() %}

{#- Neutron (hastack/neutron.py): its database; its Keystone user; the controllers one at
    a time; then the network nodes, one at a time, each step
    refusing to take the last live agent of a kind away and waiting until the node's agents
    are alive with a started_at newer than their restart. #}
hastack-neutron-db:
  salt.state:
    - tgt: {{ galera.nodes[0] }}
    - sls: neutron.db
    - failhard: True
    - require:
      - salt: hastack-galera-up
      {%- if rabbit %}
      - salt: hastack-rabbitmq-cluster
      {%- endif %}

hastack-neutron-keystone:
  salt.state:
    - tgt: {{ ks_first }}
    - sls: neutron.keystone
    - failhard: True
    - require:
      - salt: hastack-keystone-catalog

{%- for node in neutron_svc.nodes %}

{#- One controller at a time: the first upgrades the schema; a changed file restarts a
    node's Neutron while the others answer. #}
hastack-neutron-server-{{ node }}:
  salt.state:
    - tgt: {{ node }}
    - sls: neutron
    - failhard: True
    - require:
      - salt: hastack-neutron-db
      - salt: hastack-neutron-keystone
      {%- if not loop.first %}
      - salt: hastack-neutron-server-{{ neutron_svc.nodes[loop.index0 - 1] }}
      {%- endif %}
{%- endfor %}
{%- for node in nt_agents %}

hastack-neutron-agents-{{ node }}:
  salt.state:
    - tgt: {{ node }}
    - sls: neutron.agents
    - failhard: True
    - require:
      - salt: hastack-neutron-server-{{ neutron_svc.nodes[-1] }}
      {%- if not loop.first %}
      - salt: hastack-neutron-agents-{{ nt_agents[loop.index0 - 1] }}
      {%- endif %}
{%- endfor %}
{%- endif %}

{%- if rabbit %}

{#- Last, after every service that declares queues (a new controller's Neutron declares its
    own): every quorum queue grown onto every member again (salt/rabbitmq/replicas.sls). #}
hastack-rabbitmq-replicas:
  salt.state:
    - tgt: {{ rabbit.nodes[0] }}
    - sls: rabbitmq.replicas
    - failhard: True
    - order: last
    - require:
      - salt: hastack-rabbitmq-cluster
{%- endif %}

{#- Corosync/Pacemaker (hastack:cluster), after Keystone: corosync.conf and the authkey on
    every member, corosync and pacemaker started; then, from the first member, a wait until
    quorate with every member online, and the resources batch once (loaded only when the
    CIB differs). A cluster without fencing says so here, loudly. hastack/cluster.py has
    the why. #}
{%- set cl = topo.get('cluster') %}
{%- if cl %}
{%- set cl_nodes = salt['ha_cluster.members']() %}
{%- set cl_services = topo.get('services', {}) %}

hastack-cluster:
  salt.state:
    - tgt: {{ cl_nodes | join(',') }}
    - tgt_type: list
    - expect_minions: True
    - sls: cluster
    - failhard: True
    - require:
      - salt: hastack-common
      {%- if cl_services.get('keystone') and cl_services.get('galera') %}
      - salt: hastack-keystone-catalog
      {%- endif %}

hastack-cluster-ready:
  salt.state:
    - tgt: {{ cl_nodes[0] }}
    - sls: cluster.ready
    - failhard: True
    - require:
      - salt: hastack-cluster

hastack-cluster-resources:
  salt.state:
    - tgt: {{ cl_nodes[0] }}
    - sls: cluster.resources
    - failhard: True
    - require:
      - salt: hastack-cluster-ready

{#- Changes nothing; names the fence devices, or prints the no-fencing warning. #}
hastack-cluster-fencing:
  ha_cluster.fencing:
    - require:
      - salt: hastack-cluster-resources
{%- endif %}
