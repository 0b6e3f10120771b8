"""The lab's node image: Debian bookworm with the service packages, a salt-minion venv,
Keystone's venv and Neutron's (a real host gets them from the keystone and neutron states).

The image is built once with debootstrap and a chroot, then kept read-only under
``/var/cache/hastack/images/<hash>/rootfs``, where ``<hash>`` covers the whole recipe below
(packages, pins, every build step's text). Each lab node is an overlayfs on top of it, so a
node costs only what it writes. Change anything in the recipe and the next ``lab up`` builds a
new image; the old ones stay until removed by hand (``hastack lab prune-images``).

Traps this recipe handles (see shared LAB-NOTES):
- services must not start inside the chroot: a ``policy-rc.d`` denies them during the build,
  and every service unit is disabled so Salt is what starts them on a node;
- the host exports ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE`` pointing at a host path, so the
  chroot runs with a clean environment;
- ``timelib`` (a salt dependency) needs a compiler, and the host's pip is the one set up to
  reach the registry: every wheel is made on the host and installed with ``--no-index``;
- ``/etc/machine-id`` is emptied so every node gets its own.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

from hastack import keystone, neutron, pins
from hastack.lab import proc

CACHE = "/var/cache/hastack"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

BASE_INCLUDE = ["systemd", "systemd-sysv", "dbus", "iproute2", "python3", "python3-venv",
                "ca-certificates"]

# Baked in so a node needs no package mirror; every service stays disabled until Salt starts it.
PACKAGES = [
    "haproxy", "keepalived",
    "mariadb-server", "mariadb-client", "galera-4", "galera-arbitrator-4", "rsync",
    "mariadb-backup", "socat",
    "rabbitmq-server",
    "corosync", "pacemaker", "crmsh", "resource-agents",
    "systemd-timesyncd", "curl", "iputils-ping", "procps", "nftables", "less",
]
# Socket units too: Debian enables mariadb.socket (*:3306) and epmd.socket (*:4369), which
# would hold ports the services' own configs bind on chosen addresses.
SERVICES_DISABLED = ["haproxy", "keepalived", "mariadb", "mariadb.socket", "rabbitmq-server",
                     "epmd.service", "epmd.socket", "corosync", "pacemaker", "logd",
                     "systemd-timesyncd", "apt-daily.timer", "apt-daily-upgrade.timer",
                     "garb"]

MINION_VENV = "/opt/salt"
# The lab bind-mounts the checkout's src/ here, and the minion venv imports hastack from it:
# the lab's stand-in for `pip install hastack` into the minion's Python on a real host.
HASTACK_SRC = "/opt/hastack"

SALT_MINION_UNIT = """\
[Unit]
Description=Salt minion (hastack lab)
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=all
ExecStart={venv}/bin/salt-minion
KillMode=process
Restart=on-failure
RestartSec=1

[Install]
WantedBy=multi-user.target
""".format(venv=MINION_VENV)

MINION_CONFIG = """\
# hastack lab: the node part; id and master come from minion.d/ written per node.
log_level: warning
acceptance_wait_time: 1
acceptance_wait_time_max: 5
random_reauth_delay: 0
recon_default: 200
recon_max: 2000
recon_randomize: false
auth_timeout: 10
"""

STEPS = [
    ("configure apt and deny service starts", """
        printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        echo 'APT::Install-Recommends "false";' > /etc/apt/apt.conf.d/90hastack
    """),
    ("install service packages", """
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages}
    """),
    ("disable services so Salt starts them", """
        systemctl disable {services_disabled} 2>&1 | grep -v '^Removed' || true
        systemctl enable systemd-networkd
    """),
    ("create the salt-minion venv", """
        python3 -m venv {venv}
        {venv}/bin/pip install -q --no-cache-dir --no-index --find-links /tmp/hastack-wheels \
            {python}
        echo {hastack_src} > {venv}/lib/python3.11/site-packages/hastack-lab.pth
        ln -sf {venv}/bin/salt-call /usr/local/bin/salt-call
    """),
    ("create the keystone venv", """
        python3 -m venv {keystone_venv}
        {keystone_venv}/bin/pip install -q --no-cache-dir --no-index \
            --find-links /tmp/hastack-wheels {keystone}
    """),
    ("create the neutron venv", """
        python3 -m venv {neutron_venv}
        {neutron_venv}/bin/pip install -q --no-cache-dir --no-index \
            --find-links /tmp/hastack-wheels {neutron}
    """),
    ("install the salt-minion unit and config", """
        mkdir -p /etc/salt/minion.d
        cat > /etc/salt/minion <<'HASTACK_EOF'
{minion_config}HASTACK_EOF
        cat > /etc/systemd/system/salt-minion.service <<'HASTACK_EOF'
{minion_unit}HASTACK_EOF
        systemctl enable salt-minion
    """),
    ("clean up", """
        apt-get clean
        rm -rf /var/lib/apt/lists/* /tmp/hastack-wheels /usr/sbin/policy-rc.d
        : > /etc/machine-id
        rm -f /var/lib/dbus/machine-id
        : > /etc/resolv.conf
    """),
]


def recipe():
    """The whole recipe as data: what the image hash covers."""
    return {
        "suite": SUITE,
        "base_include": BASE_INCLUDE,
        "packages": PACKAGES,
        "services_disabled": SERVICES_DISABLED,
        "python": pins.RUNTIME,
        "keystone": pins.KEYSTONE,
        "neutron": pins.NEUTRON,
        "steps": [[label, render_step(script)] for label, script in STEPS],
    }


def render_step(script):
    return script.format(
        packages=" ".join(PACKAGES),
        services_disabled=" ".join(SERVICES_DISABLED),
        venv=MINION_VENV,
        python=" ".join("'%s'" % p for p in pins.RUNTIME),
        hastack_src=HASTACK_SRC,
        keystone_venv=keystone.VENV,
        keystone=" ".join("'%s'" % p for p in pins.KEYSTONE),
        neutron_venv=neutron.VENV,
        neutron=" ".join("'%s'" % p for p in pins.NEUTRON),
        minion_config=MINION_CONFIG,
        minion_unit=SALT_MINION_UNIT,
    )


def recipe_hash(rec=None):
    """A short, stable hash of the recipe: the image's cache key."""
    blob = json.dumps(rec if rec is not None else recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def mirror_from_sources(text):
    """The first Debian mirror named in a deb822 ``.sources`` or a one-line ``sources.list``."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("URIs:"):
            uris = line.split(":", 1)[1].split()
            if uris:
                return uris[0]
        if line.startswith("deb ") and "security" not in line:
            return line.split()[1]
    return None


def host_mirror():
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path) as f:
                mirror = mirror_from_sources(f.read())
        except OSError:
            continue
        if mirror:
            return mirror
    return DEFAULT_MIRROR


def image_dir(cache=CACHE):
    return os.path.join(cache, "images", recipe_hash())


def rootfs(cache=CACHE):
    return os.path.join(image_dir(cache), "rootfs")


def is_built(cache=CACHE):
    return os.path.exists(os.path.join(image_dir(cache), "complete"))


def _chroot(root, script, log):
    """Run a shell script inside the chroot with a clean environment (see the module doc)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root"}
    proc.run(["chroot", root, "/bin/sh", "-ec", script], env=env, log=log)


def _mount_api_fs(root):
    mounted = []
    for src, dst, opts in (("proc", "proc", ["-t", "proc"]), ("sysfs", "sys", ["-t", "sysfs"]),
                           ("/dev", "dev", ["--bind"]), ("/dev/pts", "dev/pts", ["--bind"])):
        target = os.path.join(root, dst)
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount"] + opts + [src, target], check=True)
        mounted.append(target)
    return mounted


def unmount_under(path):
    """Unmount every mount point at or below ``path``, deepest first."""
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    for point in sorted((p for p in points if p == path or p.startswith(path + "/")),
                        key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def _host_wheels(dest, log):
    """Wheels for the minion venv, fetched and built on the host.

    The chroot installs from them with no index: the host's pip already knows how to reach
    the package registry (certificates, proxies), and ``timelib`` needs the host's compiler.
    Host and image are both Debian bookworm with Python 3.11, so the wheels fit.
    """
    os.makedirs(dest, exist_ok=True)
    for reqs in (pins.RUNTIME, pins.KEYSTONE, pins.NEUTRON):
        proc.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", dest] + reqs, log=log)


def prune(cache=CACHE):
    """Remove cached images of other recipes and builds that never finished. Returns them."""
    keep = os.path.basename(image_dir(cache))
    images = os.path.join(cache, "images")
    removed = []
    for entry in sorted(os.listdir(images)) if os.path.isdir(images) else []:
        if entry == keep:
            continue
        path = os.path.join(images, entry)
        unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def build(cache=CACHE, progress=print):
    """Build the image unless a complete one with this recipe's hash exists. Returns rootfs."""
    final = image_dir(cache)
    if is_built(cache):
        progress("[image] cached %s" % final)
        return os.path.join(final, "rootfs")
    work = final + ".build"
    unmount_under(work)
    shutil.rmtree(work, ignore_errors=True)
    root = os.path.join(work, "rootfs")
    os.makedirs(work)
    log = os.path.join(work, "build.log")
    started = time.monotonic()
    total = len(STEPS) + 2

    def step(n, label):
        progress("[image] step %d/%d: %s (%.0f s so far, log %s)"
                 % (n, total, label, time.monotonic() - started, log))

    step(1, "debootstrap %s" % SUITE)
    proc.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_INCLUDE),
              SUITE, root, host_mirror()], log=log)
    step(2, "build host wheels")
    _host_wheels(os.path.join(root, "tmp/hastack-wheels"), log)
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    mounted = _mount_api_fs(root)
    try:
        for n, (label, script) in enumerate(STEPS, start=3):
            step(n, label)
            _chroot(root, render_step(script), log)
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", target], check=False)
    with open(os.path.join(work, "recipe.json"), "w") as f:
        json.dump(recipe(), f, indent=1, sort_keys=True)
    with open(os.path.join(work, "complete"), "w") as f:
        f.write("%.1f\n" % (time.monotonic() - started))
    os.rename(work, final)
    progress("[image] built %s in %.0f s" % (final, time.monotonic() - started))
    return os.path.join(final, "rootfs")
