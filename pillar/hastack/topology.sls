# The cluster topology: the one place that says which nodes exist, what they do, and where the
# virtual IPs live. Every hastack state and runner reads it; `salt-run hastack.validate` (and
# the first step of orch.deploy) checks it before anything is changed.
# This example is the lab's shape: 3 controllers and 2 network nodes on 198.18.10.0/24.
hastack:
  cluster_name: hastack
  network:
    subnet: 198.18.10.0/24
    interface: host0            # the link the VIPs are added to
  nodes:
    ctl1: {address: 198.18.10.11, roles: [controller]}
    ctl2: {address: 198.18.10.12, roles: [controller]}
    ctl3: {address: 198.18.10.13, roles: [controller]}
    net1: {address: 198.18.10.14, roles: [network]}
    net2: {address: 198.18.10.15, roles: [network]}
  vips:
    # One VRRP instance per VIP; router ids unique on the link; the node list is the order of
    # preference (the first holds the VIP while it is healthy). api and api2 are both active,
    # each preferred on another load balancer: publish both as one DNS round-robin record set
    # (see README, "Several active load balancers").
    api: {address: 198.18.10.100, router_id: 51, nodes: [ctl1, ctl2, ctl3]}
    db: {address: 198.18.10.101, router_id: 52, nodes: [ctl1, ctl2, ctl3]}
    api2: {address: 198.18.10.102, router_id: 53, nodes: [ctl2, ctl3, ctl1]}
  loadbalancer:
    # nodes: [ctl1, ctl2, ctl3]     # default: nodes with role loadbalancer, else controllers
    advert_int: 0.05                 # VRRPv3 adverts; a dead holder is replaced in ~3 adverts
    haproxy_check: track_file        # keepalived hears of haproxy's death by inotify
    preempt_delay: 5                 # a returning preferred node waits before taking back
  services:
    # port: what the service binds on each node's own address; vip: its haproxy frontend(s);
    # check: the HTTP health check haproxy runs (port: where, if not the service port).
    galera:                          # odd member count, or set arbitrator
      nodes: [ctl1, ctl2, ctl3]
      port: 3306
      vip: db
      mode: tcp
      single_writer: true            # one active writer, the others backups
      check: {port: 9200, path: /, expect: 200}
      # sync_wait: 1                 # OpenStack services' reads wait for every earlier commit
      # suspect_timeout: 2           # s a hard-dead member stalls commits (Galera's 5 s)
    rabbitmq:
      nodes: [ctl1, ctl2, ctl3]        # the first is the seed the others join
      port: 5672
      queues: quorum                   # or classic_mirrored (RabbitMQ 3.x only)
      users:                           # passwords: hastack secrets --topology ...
        openstack: {vhost: /}
    keystone:                          # active/active; database through the db VIP
      nodes: [ctl1, ctl2, ctl3]        # the first makes the schema and bootstraps
      port: 5000
      vip: [api, api2]                 # the catalog names the first (or endpoint_host)
      check: {path: /v3, expect: 200}
      retry_paths: [/v3/auth/tokens]   # haproxy may resend a token request (stores nothing)
      region: RegionOne
      workers: 2                       # gunicorn workers per controller
      # endpoint_host: keystone.cloud.example   # a DNS name for every catalog URL
      # password_hash_rounds: 12       # bcrypt cost; Keystone's default
    # neutron:                         # API + RPC server on the controllers (hastack/neutron.py);
    #                                  # its secrets: hastack secrets --topology ...
    #   nodes: [ctl1, ctl2, ctl3]
    #   port: 9696
    #   vip: [api, api2]
    #   check: {path: /, expect: 200}
    #   workers: 2                       # gunicorn workers per controller
    #   report_interval: 30              # agents' heartbeat (s) ...
    #   agent_down_time: 75              # ... and when an agent counts as dead (s)
    #   agents:                          # L3, DHCP, metadata agents
    #     nodes: [net1, net2]            # default: the nodes with role network
    #     mode: active_active            # every node runs all three; HA routers. Or
    #                                    # active_passive: one node runs the group, hastack
    #                                    # moves it (needs l3_ha: false and
    #                                    # dhcp_agents_per_network: 1)
    #     l3_ha: true
    #     max_l3_agents_per_router: 2
    #     dhcp_agents_per_network: 2
  # Auto-healing (the ha_health beacon and the master's reactor; see hastack/heal.py):
  # healing:
  #   max_attempts: 3                  # heal attempts per resource ...
  #   window: 300                      # ... in this many seconds, then one alert
  #   backoff: [0, 5, 20]              # seconds between attempts
  #   grace: 10                        # Galera not Synced this long is a problem
  #   neutron_every: 5                 # s between asking the API for dead agents
  common:
    sysctl:
      net.ipv4.ip_nonlocal_bind: 1   # haproxy binds VIPs this node does not hold (yet)
    packages:
      all: [iproute2, curl, procps, systemd-timesyncd]
      controller: [haproxy, keepalived, mariadb-server, galera-4, rsync, rabbitmq-server]
      network: [keepalived]
    pkg_refresh: true                # apt-get update before installing
    timesync: true                   # skipped inside containers: the host owns the clock
  # secrets: generated into pillar/hastack/secrets.sls by
  #   hastack secrets --out pillar/hastack/secrets.sls --topology pillar/hastack/topology.sls
  # A Corosync/Pacemaker cluster for the active/passive pieces (see hastack/cluster.py):
  # cluster:
  #   manager: hastack               # or pacemaker; hastack's reactor is the default
  #   nodes: [ctl1, ctl2, ctl3]      # default: the controllers
  #   token: 1000                    # ms; plus token_coefficient per node past two:
  #   token_coefficient: 0           # 0 makes the token what it says
  #   dc_deadtime: 5                 # s; Pacemaker's own 20 s delays a fresh cluster
  #   fencing:                       # or, with no fence devices, the explicit opt-out
  #     - {name: fence-ctl1, agent: fence_ipmilan, nodes: [ctl1],       #   fencing:
  #        params: {ip: 10.0.0.11, username: admin, password: secret}}  #     disabled-i-accept-split-brain
  #   resources:
  #     web-vip: {vip: 198.18.10.110, monitor: 1}    # IPaddr2; never also under vips:
  #     web: {systemd: nginx, monitor: 1}            # the unit stays disabled in systemd
  #   constraints:
  #     - {colocate: [web, web-vip]}   # web runs where web-vip runs
  #     - {order: [web-vip, web]}      # web-vip starts first
