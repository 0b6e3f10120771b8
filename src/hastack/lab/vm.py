"""The lab's DRBD machines: qemu VMs ``db1``/``db2`` on the lab bridge, for what containers
cannot do (the host kernel has no DRBD and loads no modules).

The VM image is built once and cached under ``/var/cache/hastack/vm/<recipe hash>``: Debian
bookworm from debootstrap plus the Debian kernel, drbd-utils, MariaDB and a salt-minion venv
with the same pins as the containers (``hastack.pins.RUNTIME``, wheels made on the host as in
:mod:`hastack.lab.image`), turned into a raw ext4 image with ``mkfs.ext4 -d``; the kernel and
initrd are kept next to it and booted directly. Each VM gets a qcow2 overlay on that image
(so it costs only what it writes) and one small raw disk for DRBD.

Traps handled here (see shared LAB-NOTES):
- ``/dev/kvm`` exists but is PVM-only: a stock kernel hangs under it, so qemu runs ``-accel
  tcg`` (software emulation; everything in a VM is several times slower than on the host);
- a VM cannot take a bind mount: its identity (hostname, static address, minion id and key)
  and the checkout's ``src/`` reach it over virtio 9p shares, which a oneshot unit
  (``hastack-seed``) mounts and copies before the network and the minion start;
- the image carries a fixed machine-id (an empty one would make systemd apply every preset on
  first boot and enable MariaDB); each VM gets its own with ``systemd.machine_id=``;
- MariaDB and DRBD stay disabled: Salt decides where the data is mounted and served.

A VM's network is a tap device (``vt-<name>``) enslaved to the lab bridge, so its minion
reaches the host's salt-master like the containers do. Power is qemu's process: killing it is
a hard power loss (the disks stay), and ``down`` kills only the PIDs recorded here.
"""

import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

from hastack import pins
from hastack.lab import image, layout, proc
from hastack.lab.proc import LabError, run

CACHE = os.path.join(image.CACHE, "vm")
ROOT_IMAGE_SIZE = "3G"
DRBD_DISK_MIB = 128
MEMORY_MIB = 1024
SEED_TAG = "seed"
SRC_TAG = "hastack"

BASE_INCLUDE = ["systemd", "systemd-sysv", "dbus", "iproute2", "python3", "python3-venv",
                "ca-certificates", "kmod", "udev"]
PACKAGES = ["linux-image-amd64", "initramfs-tools", "drbd-utils", "mariadb-server",
            "mariadb-client", "curl", "procps", "systemd-timesyncd", "iputils-ping", "less",
            # `lab drbd up --manager pacemaker`: ocf:linbit:drbd is drbd-utils'
            "corosync", "pacemaker", "crmsh", "resource-agents"]
SERVICES_DISABLED = ["mariadb", "mariadb.socket", "drbd", "corosync", "pacemaker",
                     "systemd-timesyncd",
                     "apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_reap"]

SEED_SCRIPT = """\
#!/bin/sh
# hastack lab: this VM's identity and the checkout's src/ come from the host over 9p.
set -e
modprobe 9pnet_virtio
mkdir -p /run/hastack-seed {src}
mount -t 9p -o trans=virtio,version=9p2000.L,ro {seed_tag} /run/hastack-seed
cp -a /run/hastack-seed/files/. /
hostname "$(cat /etc/hostname)"
mount -t 9p -o trans=virtio,version=9p2000.L,ro {src_tag} {src}
""".format(src=image.HASTACK_SRC, seed_tag=SEED_TAG, src_tag=SRC_TAG)

SEED_UNIT = """\
[Unit]
Description=hastack lab: VM identity and hastack source from the host (9p)
DefaultDependencies=no
After=local-fs.target systemd-remount-fs.service systemd-modules-load.service
Before=network-pre.target systemd-networkd.service salt-minion.service sysinit.target
Wants=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/hastack-seed

[Install]
WantedBy=sysinit.target
"""

STEPS = [
    ("configure apt and deny service starts", """
        printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d
        echo 'APT::Install-Recommends "false";' > /etc/apt/apt.conf.d/90hastack
        echo 'do_symlinks = yes' > /etc/kernel-img.conf
    """),
    ("install the kernel, drbd-utils and MariaDB", """
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q {packages}
    """),
    ("disable services so Salt starts them", """
        for unit in {services_disabled}; do systemctl disable $unit 2>/dev/null || true; done
        systemctl enable systemd-networkd
        systemctl mask serial-getty@ttyS0.service
    """),
    ("create the salt-minion venv", """
        python3 -m venv {venv}
        {venv}/bin/pip install -q --no-cache-dir --no-index --find-links /tmp/hastack-wheels \
            {python}
        echo {hastack_src} > {venv}/lib/python3.11/site-packages/hastack-lab.pth
        ln -sf {venv}/bin/salt-call /usr/local/bin/salt-call
    """),
    ("install the minion, the seed unit and the fstab", """
        mkdir -p /etc/salt/minion.d
        cat > /etc/salt/minion <<'HASTACK_EOF'
{minion_config}HASTACK_EOF
        cat > /etc/systemd/system/salt-minion.service <<'HASTACK_EOF'
{minion_unit}HASTACK_EOF
        systemctl enable salt-minion
        cat > /usr/local/sbin/hastack-seed <<'HASTACK_EOF'
{seed_script}HASTACK_EOF
        chmod 0755 /usr/local/sbin/hastack-seed
        cat > /etc/systemd/system/hastack-seed.service <<'HASTACK_EOF'
{seed_unit}HASTACK_EOF
        systemctl enable hastack-seed
        printf '/dev/vda / ext4 rw,noatime,errors=remount-ro 0 1\\n' > /etc/fstab
        printf '9p\\n9pnet_virtio\\ndrbd\\n' > /etc/modules-load.d/hastack.conf
        echo 'net.ipv4.ip_nonlocal_bind = 1' > /etc/sysctl.d/60-hastack.conf
    """),
    ("clean up", """
        apt-get clean
        rm -rf /var/lib/apt/lists/* /tmp/hastack-wheels /usr/sbin/policy-rc.d
        echo {machine_id} > /etc/machine-id
        rm -f /var/lib/dbus/machine-id
        : > /etc/resolv.conf
    """),
]

# A fixed machine-id in the image (see the module doc); every VM overrides it at boot.
IMAGE_MACHINE_ID = "4a5e1b2c3d4e5f60718293a4b5c6d7e8"


def render_step(script):
    return script.format(
        packages=" ".join(PACKAGES),
        services_disabled=" ".join(SERVICES_DISABLED),
        venv=image.MINION_VENV,
        python=" ".join("'%s'" % p for p in pins.RUNTIME),
        hastack_src=image.HASTACK_SRC,
        minion_config=image.MINION_CONFIG,
        minion_unit=image.SALT_MINION_UNIT,
        seed_script=SEED_SCRIPT,
        seed_unit=SEED_UNIT,
        machine_id=IMAGE_MACHINE_ID,
    )


def recipe():
    """The whole recipe as data: what the VM image's hash covers."""
    return {
        "suite": image.SUITE,
        "base_include": BASE_INCLUDE,
        "packages": PACKAGES,
        "services_disabled": SERVICES_DISABLED,
        "python": pins.RUNTIME,
        "root_image_size": ROOT_IMAGE_SIZE,
        "steps": [[label, render_step(script)] for label, script in STEPS],
    }


def recipe_hash(rec=None):
    blob = json.dumps(rec if rec is not None else recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def image_dir(cache=CACHE):
    return os.path.join(cache, recipe_hash())


def is_built(cache=CACHE):
    return os.path.exists(os.path.join(image_dir(cache), "complete"))


def build(cache=CACHE, progress=print):
    """Build the VM image unless a complete one of this recipe exists. Returns its directory
    (``root.img``, ``vmlinuz``, ``initrd.img``)."""
    final = image_dir(cache)
    if is_built(cache):
        progress("[vm-image] cached %s" % final)
        return final
    work = final + ".build"
    image.unmount_under(work)
    shutil.rmtree(work, ignore_errors=True)
    root = os.path.join(work, "rootfs")
    os.makedirs(work)
    log = os.path.join(work, "build.log")
    started = time.monotonic()
    total = len(STEPS) + 3

    def step(n, label):
        progress("[vm-image] step %d/%d: %s (%.0f s so far, log %s)"
                 % (n, total, label, time.monotonic() - started, log))

    step(1, "debootstrap %s" % image.SUITE)
    proc.run(["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_INCLUDE),
              image.SUITE, root, image.host_mirror()], log=log)
    step(2, "build host wheels")
    wheels = os.path.join(root, "tmp/hastack-wheels")
    os.makedirs(wheels, exist_ok=True)
    proc.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", wheels] + pins.RUNTIME,
             log=log)
    shutil.copy("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
    mounted = image._mount_api_fs(root)
    try:
        for n, (label, script) in enumerate(STEPS, start=3):
            step(n, label)
            image._chroot(root, render_step(script), log)
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", target], check=False)
    step(total, "kernel out, root filesystem into root.img (mkfs.ext4 -d)")
    boot = os.path.join(root, "boot")
    kernels = sorted(n for n in os.listdir(boot) if n.startswith("vmlinuz-"))
    if not kernels:
        raise LabError("no kernel in %s; see %s" % (boot, log))
    version = kernels[-1][len("vmlinuz-"):]
    shutil.copy(os.path.join(boot, "vmlinuz-" + version), os.path.join(work, "vmlinuz"))
    shutil.copy(os.path.join(boot, "initrd.img-" + version), os.path.join(work, "initrd.img"))
    proc.run(["mkfs.ext4", "-q", "-L", "hastack-root", "-E", "nodiscard", "-d", root,
              os.path.join(work, "root.img"), ROOT_IMAGE_SIZE], log=log)
    shutil.rmtree(root)
    with open(os.path.join(work, "recipe.json"), "w") as f:
        json.dump(recipe(), f, indent=1, sort_keys=True)
    with open(os.path.join(work, "complete"), "w") as f:
        f.write("%.1f\n" % (time.monotonic() - started))
    os.rename(work, final)
    progress("[vm-image] built %s in %.0f s" % (final, time.monotonic() - started))
    return final


def prune(cache=CACHE):
    """Remove cached VM images of other recipes and unfinished builds. Returns them."""
    keep = recipe_hash()
    removed = []
    for entry in sorted(os.listdir(cache)) if os.path.isdir(cache) else []:
        if entry != keep:
            path = os.path.join(cache, entry)
            image.unmount_under(path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# -- one VM --------------------------------------------------------------------------------------

def tap_name(name):
    return ("vt-" + name)[:15]


def mac_address(address):
    """A stable, locally administered MAC from the VM's IPv4 address (52:54:00 is qemu's)."""
    octets = [int(o) for o in str(address).split(".")]
    return "52:54:00:%02x:%02x:%02x" % tuple(octets[1:])


class VM:
    """One lab VM's files and its qemu process. ``lab`` is the lab's state directory."""

    def __init__(self, lab, name, address, src):
        self.name = name
        self.address = str(address)
        self.src = src
        self.dir = os.path.join(lab, "vms", name)
        self.disk = os.path.join(self.dir, "root.qcow2")
        self.drbd_disk = os.path.join(self.dir, "drbd.img")
        self.seed = os.path.join(self.dir, "seed")
        self.pidfile = os.path.join(self.dir, "qemu.pid")
        self.console = os.path.join(self.dir, "console.log")
        self.tap = tap_name(name)

    # -- processes -------------------------------------------------------------------------
    def pid(self):
        """PID of this VM's qemu if it is alive and really ours, else None."""
        pid, argv = proc.pidfile_argv(self.pidfile)
        if pid and b"qemu-system" in argv[0] and self.disk.encode() in b" ".join(argv):
            return pid
        return None

    def is_running(self):
        return self.pid() is not None

    # -- disks and identity ------------------------------------------------------------------
    def create_disks(self, image_root):
        """The root overlay on the cached image and a blank DRBD disk, unless they exist."""
        os.makedirs(self.dir, exist_ok=True)
        if not os.path.exists(self.disk):
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                 os.path.join(image_root, "root.img"), self.disk])
        if not os.path.exists(self.drbd_disk):
            with open(self.drbd_disk, "wb") as f:
                f.truncate(DRBD_DISK_MIB * 1024 * 1024)

    def write_seed(self, hosts, master, minion_key):
        """Files copied into the VM's root at boot (by ``hastack-seed``)."""
        files = {
            "etc/hostname": self.name + "\n",
            "etc/hosts": "127.0.0.1 localhost\n" + "".join(
                "%s %s\n" % (addr, name) for name, addr in hosts.items()),
            "etc/systemd/network/10-lab.network":
                "[Match]\nMACAddress=%s\n\n[Network]\nAddress=%s/%d\nLinkLocalAddressing=no\n"
                % (mac_address(self.address), self.address, layout.SUBNET.prefixlen),
            "etc/salt/minion.d/node.conf": "id: %s\nmaster: %s\ntcp_keepalive_idle: 10\n"
                                           "tcp_keepalive_cnt: 3\ntcp_keepalive_intvl: 3\n"
                                           % (self.name, master),
            "etc/salt/minion_id": self.name + "\n",
            "etc/salt/pki/minion/minion.pem": minion_key[0],
            "etc/salt/pki/minion/minion.pub": minion_key[1],
        }
        files_dir = os.path.join(self.seed, "files")
        for rel, text in files.items():
            path = os.path.join(files_dir, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        os.chmod(os.path.join(files_dir, "etc/salt/pki/minion/minion.pem"), 0o400)
        machine_id = os.path.join(self.dir, "machine-id")
        if not os.path.exists(machine_id):
            with open(machine_id, "w") as f:
                f.write(secrets.token_hex(16))

    def has_seed(self):
        return os.path.exists(os.path.join(self.seed, "files/etc/salt/pki/minion/minion.pem"))

    # -- network -------------------------------------------------------------------------------
    def ensure_tap(self):
        links = {link["ifname"] for link in json.loads(run(["ip", "-j", "link", "show"]))}
        if self.tap not in links:
            run(["ip", "tuntap", "add", "dev", self.tap, "mode", "tap"])
        run(["ip", "link", "set", self.tap, "master", layout.BRIDGE, "up"])

    def remove_tap(self):
        links = {link["ifname"] for link in json.loads(run(["ip", "-j", "link", "show"]))}
        if self.tap in links:
            run(["ip", "link", "delete", self.tap])

    # -- power -------------------------------------------------------------------------------
    def command(self, image_root):
        with open(os.path.join(self.dir, "machine-id")) as f:
            machine_id = f.read().strip()
        # The console log shows the boot and everything the journal gets (the minion's
        # errors too): a VM has no `hastack lab exec`.
        append = ("root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet systemd.show_status=1 "
                  "systemd.journald.forward_to_console=1 systemd.machine_id=%s" % machine_id)
        return [
            shutil.which("qemu-system-x86_64") or "qemu-system-x86_64",
            "-name", self.name, "-accel", "tcg", "-machine", "q35", "-cpu", "max",
            "-smp", "1", "-m", str(MEMORY_MIB),
            "-kernel", os.path.join(image_root, "vmlinuz"),
            "-initrd", os.path.join(image_root, "initrd.img"),
            "-append", append,
            "-drive", "file=%s,if=virtio,format=qcow2,cache=unsafe" % self.disk,
            "-drive", "file=%s,if=virtio,format=raw,cache=none,aio=threads" % self.drbd_disk,
            "-netdev", "tap,id=lan,ifname=%s,script=no,downscript=no" % self.tap,
            "-device", "virtio-net-pci,netdev=lan,mac=%s" % mac_address(self.address),
            "-fsdev", "local,id=seed,path=%s,security_model=none,readonly=on" % self.seed,
            "-device", "virtio-9p-pci,fsdev=seed,mount_tag=%s" % SEED_TAG,
            "-fsdev", "local,id=src,path=%s,security_model=none,readonly=on" % self.src,
            "-device", "virtio-9p-pci,fsdev=src,mount_tag=%s" % SRC_TAG,
            "-device", "virtio-rng-pci",
            "-display", "none", "-monitor", "none",
            "-serial", "file:%s" % self.console,
        ]

    def start(self, image_root):
        """Boot the VM (disks and seed must exist). Returns qemu's PID."""
        pid = self.pid()
        if pid:
            return pid
        self.ensure_tap()
        with open(os.path.join(self.dir, "qemu.log"), "ab") as log:
            child = subprocess.Popen(self.command(image_root), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        with open(self.pidfile, "w") as f:
            f.write(str(child.pid))
        time.sleep(0.5)
        if child.poll() is not None:
            raise LabError("qemu for %s exited %d at once; see %s"
                           % (self.name, child.returncode, os.path.join(self.dir, "qemu.log")))
        return child.pid

    def power_off(self, timeout=10):
        """Hard power loss: SIGKILL qemu. The disks stay; the tap stays (no carrier)."""
        pid = self.pid()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while self.pid() and time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)

    def remove(self):
        self.power_off()
        self.remove_tap()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the DRBD part of the lab ----------------------------------------------------------------------

def vms(lab_dir, addresses=None, src=""):
    """The lab's VMs that have a directory (or, with ``addresses``, those named there)."""
    names = (list(addresses) if addresses else
             sorted(os.listdir(os.path.join(lab_dir, "vms")))
             if os.path.isdir(os.path.join(lab_dir, "vms")) else [])
    return [VM(lab_dir, n, (addresses or {}).get(n, ""), src) for n in names]


def lab_vm(lab, name):
    """The lab's DRBD VM ``name`` (one of layout.DRBD_VMS), for power tests."""
    index = list(layout.DRBD_VMS).index(name)
    return VM(lab.dir, name, layout.drbd_vm_address(index), os.path.join(lab.repo, "src"))


def any_running(lab_dir):
    return any(v.is_running() for v in vms(lab_dir))


def remove_all(lab_dir):
    """Power off every lab VM (by the PIDs recorded here) and remove its tap and disks."""
    for v in vms(lab_dir):
        v.remove()
    shutil.rmtree(os.path.join(lab_dir, "vms"), ignore_errors=True)


def _preflight(lab):
    if os.geteuid() != 0:
        raise LabError("the lab needs root (taps, qemu)")
    missing = [t for t in ("qemu-system-x86_64", "qemu-img", "mkfs.ext4") if not shutil.which(t)]
    if missing:
        raise LabError("missing host tools: %s; `make lab` installs them (apt-get install "
                       "qemu-system-x86 qemu-utils)" % ", ".join(missing))
    if not os.path.exists("/dev/net/tun"):
        raise LabError("/dev/net/tun is missing: the VMs need tap devices")
    state = lab.saved()
    if not state or not lab.master.pid():
        raise LabError("the lab is not up (no bridge or salt-master): `hastack lab up` first")
    return state


def _salt_json(lab, args, timeout):
    res = lab.master.cmd("salt", list(args) + ["--out=json", "--static"], timeout=timeout)
    try:
        return res, json.loads(res.stdout or "{}")
    except ValueError:
        return res, {}


def _master_current(lab):
    """Restart the lab's master if it runs with an older config (e.g. without the reactor)."""
    import yaml

    try:
        with open(os.path.join(lab.master.conf_dir, "master")) as f:
            running = yaml.safe_load(f)
    except OSError:
        running = None
    if running != json.loads(json.dumps(lab.master.config())):
        lab.progress("[drbd] the salt-master's config changed (reactor): restarting it")
        lab.master.write_config()
        lab.master.stop()
        lab.master.start()


def _wait_minions(lab, names, timeout):
    """Like Lab.wait_minions, with the patience software emulation needs: a VM's minion may
    take several seconds to answer its first job."""
    deadline = time.monotonic() + timeout
    answered = set()
    while time.monotonic() < deadline:
        answered = lab.master.ping(names, timeout=15)
        if answered >= set(names):
            return
        lab.progress("[drbd] waiting for minions: %s" % ", ".join(sorted(set(names) - answered)))
        time.sleep(2)
    raise LabError("minions not answering after %d s: %s (see the console.log of each under "
                   "%s/vms)" % (timeout, ", ".join(sorted(set(names) - answered)), lab.dir))


def _running_manager(lab):
    """Who runs the DRBD resource of the lab's current pillar, or None without one."""
    import yaml

    try:
        with open(lab.topology_path) as f:
            res = (yaml.safe_load(f)["hastack"].get("drbd") or {})["resources"]["mysql"]
    except (OSError, KeyError, TypeError, ValueError):
        return None
    return res.get("manager", "hastack")


def up(lab, manager="hastack"):
    """``hastack lab drbd up``: converge the DRBD VMs and deploy DRBD + MariaDB on them;
    with ``manager="pacemaker"``, Corosync/Pacemaker on them too, running the stack."""
    started = time.monotonic()
    state = _preflight(lab)
    current = _running_manager(lab)
    if any_running(lab.dir) and current not in (None, manager):
        raise LabError("the DRBD VMs run with manager %s; `hastack lab drbd down` first"
                       % current)
    image_root = build(progress=lab.progress)
    topo = layout.make_topology(state["controllers"], state["network"], drbd=True,
                                drbd_manager=manager)
    lab.write_pillar(topo)
    _master_current(lab)
    hosts = {n: node["address"] for n, node in topo["nodes"].items()}
    machines = [VM(lab.dir, n, hosts[n], os.path.join(lab.repo, "src"))
                for n in layout.DRBD_VMS]
    booted = []
    for v in machines:
        if v.is_running():
            continue
        v.create_disks(image_root)
        if not v.has_seed():
            v.write_seed(hosts, str(layout.HOST), lab.master.minion_key(v.name))
        v.start(image_root)
        booted.append(v.name)
    lab.progress("[drbd] booting %s (qemu -accel tcg; consoles in %s/vms/*/console.log)"
                 % (", ".join(booted) or "nothing", lab.dir))
    names = [v.name for v in machines]
    _wait_minions(lab, names, timeout=900)
    lab.progress("[drbd] %s answer test.ping (%.1f s)" % (", ".join(names),
                                                          time.monotonic() - started))
    for tool, args in (("salt-run", ["saltutil.sync_all"]),
                       ("salt", ["-L", ",".join(names), "saltutil.sync_all", "-t", "600",
                                 "--out=json", "--static"])):
        res = lab.master.cmd(tool, args, timeout=600)
        if res.returncode != 0:
            raise LabError("%s %s failed:\n%s%s" % (tool, " ".join(args), res.stdout,
                                                    res.stderr))
    _apply(lab, names, "drbd", 900)
    lab.progress("[drbd] salt-run hastack.drbd_up")
    res = lab.master.cmd("salt-run", ["hastack.drbd_up"], timeout=900)
    print(res.stdout, end="")
    if res.returncode != 0:
        raise LabError("hastack.drbd_up failed:\n%s%s" % (res.stdout[-3000:],
                                                          res.stderr[-1000:]))
    if manager == "pacemaker":
        _cluster_up(lab, names)
    deadline = time.monotonic() + 600
    while True:
        _, sts = _salt_json(lab, ["-L", ",".join(names), "ha_drbd.status", "mysql", "-t", "60"],
                            120)
        _, act = _salt_json(lab, ["-L", ",".join(names), "ha_drbd.active", "mysql", "-t", "60"],
                            120)
        serving = [n for n in names if isinstance(act.get(n), dict) and all(act[n].values())]
        if all(isinstance(sts.get(n), dict) and sts[n].get("disk") == "UpToDate"
               and sts[n].get("peer_disk") == "UpToDate" for n in names) and serving:
            break
        if time.monotonic() > deadline:
            raise LabError("DRBD not in sync, or mysql not served, after 600 s: %s %s"
                           % (sts, act))
        time.sleep(2)
    lab.progress("[drbd] up in %.1f s: %s; mysql served by %s (%s)" % (
        time.monotonic() - started, ", ".join("%s %s/%s" % (n, sts[n]["role"], sts[n]["disk"])
                                              for n in names), serving[0], manager))


def _apply(lab, targets, sls, timeout):
    """``state.apply sls`` on ``targets``; LabError naming the nodes where it failed."""
    lab.progress("[drbd] salt -L %s state.apply %s" % (",".join(targets), sls))
    res, answers = _salt_json(lab, ["-L", ",".join(targets), "state.apply", sls,
                                    "-t", str(timeout)], timeout + 60)
    failed = [n for n in targets if not isinstance(answers.get(n), dict)
              or any(s.get("result") is not True for s in answers[n].values())]
    if res.returncode != 0 or failed:
        raise LabError("state %s failed on %s:\n%s" % (sls, ", ".join(failed) or "?",
                                                       res.stdout[-4000:]))


def _cluster_up(lab, names):
    """Corosync and Pacemaker on the VMs, then the resources once, as orch.deploy's cluster
    steps do (cluster, cluster.ready, cluster.resources)."""
    for target, sls in ((names, "cluster"), (names[:1], "cluster.ready"),
                        (names[:1], "cluster.resources")):
        _apply(lab, target, sls, 600)


def down(lab):
    """``hastack lab drbd down``: the VMs powered off and removed, their keys forgotten and
    the lab's pillar without them again."""
    names = [v.name for v in vms(lab.dir)]
    remove_all(lab.dir)
    for name in names:
        lab.master.forget_minion(name)
    state = lab.saved()
    if state:
        lab.write_pillar(layout.make_topology(state["controllers"], state["network"]))
    lab.progress("[drbd] down: %s removed" % (", ".join(names) or "no VM"))
