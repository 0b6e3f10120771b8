# hastack: `make lab` brings the lab up and deploys; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST_PACKAGES := debootstrap systemd-container nftables iproute2 util-linux make \
		 qemu-system-x86 qemu-utils gcc libc6-dev python3-dev

.PHONY: lab test test-membership unit labtest down status host-deps venv bench

lab: host-deps venv
	$(BIN)/hastack lab up

# Unit tests first (milliseconds), then the lab tests against a lab they bring up, then the
# chaos suite on the same lab; the lab is torn down afterwards even when a test fails or
# pytest dies. The DRBD VMs (software emulation, the slowest tests; hastack's manager, then
# fresh VMs with Pacemaker's) run first, on the nodes
# booted but not yet deployed: they need only the master, and the deployed controllers'
# services take a core the emulated CPUs would otherwise have (the VMs are removed after
# them whatever happened). The stale-lab test runs last: it kills the lab. Adding and
# removing a controller under load, and a RabbitMQ node dropped from the pillar and added
# back (tests/lab/test_membership.py) take 30 min on a 2-core machine, where they would push
# this past 90 min: they are their own target, test-membership.
# The chaos suite takes the lab as the lab tests left it, deployed (no second orch.deploy,
# about 4 min with Neutron); each scenario still starts from a green `hastack.status`.
PYTEST := $(BIN)/pytest -q -p no:cacheprovider
test: host-deps venv unit
	HASTACK_KEEP_LAB=1 HASTACK_LAB_NO_DEPLOY=1 $(PYTEST) --durations=6 tests/lab/test_drbd.py \
	    tests/lab/test_drbd_pacemaker.py; \
	  rc1=$$?; $(BIN)/hastack lab drbd down >/dev/null 2>&1; \
	  HASTACK_KEEP_LAB=1 $(PYTEST) --durations=12 --ignore=tests/lab/test_membership.py \
	    --ignore=tests/lab/test_drbd.py --ignore=tests/lab/test_drbd_pacemaker.py \
	    --ignore=tests/lab/test_neutron_pacemaker.py \
	    --ignore=tests/lab/test_stale.py tests/lab; rc2=$$?; \
	  HASTACK_KEEP_LAB=1 HASTACK_LAB_NO_DEPLOY=1 $(PYTEST) tests/chaos; rc3=$$?; \
	  HASTACK_KEEP_LAB=1 HASTACK_LAB_NO_DEPLOY=1 $(PYTEST) tests/lab/test_stale.py; rc4=$$?; \
	  $(BIN)/hastack lab down; \
	  [ $$rc1 -eq 0 ] && [ $$rc2 -eq 0 ] && [ $$rc3 -eq 0 ] && [ $$rc4 -eq 0 ]

# Last: Pacemaker takes the Neutron agents over, then the network nodes leave its cluster.
test-membership: host-deps venv
	HASTACK_KEEP_LAB=1 $(PYTEST) tests/lab/test_membership.py \
	    tests/lab/test_neutron_pacemaker.py; \
	  rc=$$?; $(BIN)/hastack lab down; [ $$rc -eq 0 ]

unit: venv
	$(PYTEST) tests/unit

down: venv
	$(BIN)/hastack lab down

status: venv
	$(BIN)/hastack lab status

bench: venv
	$(BIN)/python bench/lab.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/status.py
	$(BIN)/python bench/failover.py
	$(BIN)/python bench/chaos.py
	$(BIN)/hastack lab down

# Host prerequisites, installed only when missing (apt-get update once first).
host-deps:
	@missing=""; for p in $(HOST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing host packages:$$missing"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

venv: $(BIN)/.installed

$(BIN)/.installed: setup.py src/hastack/pins.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $@
