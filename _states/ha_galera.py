"""
Galera configured from the topology pillar.

.. code-block:: yaml

    galera-config:
      ha_galera.configured: []

Writes the MariaDB/Galera config for this node (``60-hastack.cnf``). It never starts or
bootstraps MariaDB: ``salt-run hastack.galera_recover`` decides which node may, and orders
the joins.
"""

try:
    from hastack import files as hfiles

    HAS_HASTACK = True
except ImportError:
    HAS_HASTACK = False

__virtualname__ = "ha_galera"


def __virtual__():
    if not HAS_HASTACK or "ha_galera.render_config" not in __salt__:
        return (False, "The 'ha_galera' execution module is not available")
    return __virtualname__


def configured(name="galera"):
    """Render this node's MariaDB/Galera config and install it when it differs."""
    # mariadbd runs as mysql and must read it; nobody else may (it can hold the SST password).
    wanted = {__salt__["ha_galera.config_path"](): (__salt__["ha_galera.render_config"](),
                                                    0o640, None, "mysql")}
    return hfiles.converge(name, wanted, test=__opts__["test"])


def database(name, user, password_secret, host):
    """An OpenStack service's database and user, made on this (Primary) node.

    .. code-block:: yaml

        keystone-db:
          ha_galera.database:
            - name: keystone
            - user: keystone
            - password_secret: keystone_db_password   # hastack:secrets:<this>
            - host: 198.18.10.0/255.255.255.0
    """
    password = __salt__["ha_topology.get"]()["secrets"][password_secret]
    res = __salt__["ha_galera.database"](name, user, password, host, test=__opts__["test"])
    ret = {"name": name, "result": res["result"], "changes": res["changes"],
           "comment": res["comment"]}
    if __opts__["test"] and res["changes"]:
        ret["result"] = None
    return ret
