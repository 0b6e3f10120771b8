"""Pinned Python dependencies, shared by setup.py and the lab image's salt-minion venv.

salt 3008.4 and 3008.5 pin a certifi newer than the package registry holds; 3008.3 installs
cleanly. Keep this module free of imports: setup.py executes it before hastack is installed.
"""

SALT = "salt==3008.3"

RUNTIME = [
    SALT,
    "pyroute2==0.9.7",
    "PyMySQL==1.2.4",
    "pika==1.4.4",
    "keystoneauth1==5.18.1",
]

# The Keystone server's own venv (on every controller, at hastack.keystone.VENV): the server
# runs under gunicorn; its config library parses argv, see hastack.keystone for the wrapper.
KEYSTONE = [
    "keystone==30.0.0",
    "PyMySQL==1.2.4",
    "gunicorn==27.0.1",
]

# Neutron's own venv (controllers: the API under gunicorn, the RPC server, the periodic
# workers; network nodes: the agents), at hastack.neutron.VENV. Only ``ovs`` compiles.
NEUTRON = [
    "neutron==29.0.0",
    "PyMySQL==1.2.4",
    "gunicorn==27.0.1",
]

TEST = [
    "pytest==9.2.0",
    "pytest-timeout==2.4.0",
]
