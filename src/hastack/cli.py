"""The ``hastack`` command.

    hastack validate [FILE ...]     check a topology pillar offline (errors name the field)
    hastack secrets --out FILE      create or complete the generated secrets pillar
    hastack lab up|down|status|exec|kill|start|partition|heal|prune-images   the lab
    hastack lab drbd up|down        the DRBD VMs db1/db2 (qemu) on the lab's bridge
                                    (up --manager pacemaker: Pacemaker runs the stack)
"""

import argparse
import json
import sys

import yaml

from hastack import secrets, topology


def _merge(into, more):
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


def cmd_validate(args):
    merged = {}
    for path in args.files:
        with open(path) as f:
            _merge(merged, yaml.safe_load(f) or {})
    errors = topology.validate(merged.get("hastack"))
    for err in errors:
        print(err)
    if not errors:
        print("topology OK: %d nodes, %d VIPs, %d services"
              % (len(merged["hastack"]["nodes"]), len(merged["hastack"].get("vips", {})),
                 len(merged["hastack"].get("services", {}))))
    return 1 if errors else 0


def cmd_secrets(args):
    topo = None
    if args.topology:
        with open(args.topology) as f:
            topo = (yaml.safe_load(f) or {}).get("hastack")
    added = secrets.write(args.out, topo)
    print("%s: %s" % (args.out, "added " + ", ".join(added) if added else "complete, unchanged"))
    return 0


def cmd_lab(args):
    # The product never needs the lab: import it only for `hastack lab`.
    from hastack.lab import net
    from hastack.lab.lab import Lab
    from hastack.lab.proc import LabError

    lab = Lab()
    try:
        if args.verb == "up":
            lab.up(args.controllers, args.network, deploy=not args.no_deploy)
        elif args.verb == "prune-images":
            from hastack.lab import image

            from hastack.lab import vm

            for path in image.prune() + vm.prune():
                print("[image] removed %s" % path)
        elif args.verb == "down":
            lab.down()
            print("[lab] down (image cache kept)")
        elif args.verb == "status":
            return _print_status(lab.status(), args.json)
        elif args.verb == "exec":
            argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not argv:
                raise LabError("give a command: hastack lab exec NODE -- CMD ...")
            res = lab.node(args.node).exec(argv, capture=False)
            return res.returncode
        elif args.verb == "kill":
            lab.kill(args.node)
            print("[lab] %s powered off hard" % args.node)
        elif args.verb == "start":
            lab.start(args.node)
            print("[lab] %s booted" % args.node)
        elif args.verb == "partition":
            lab.node(args.node)
            net.partition(args.node)
            print("[lab] %s cut off the bridge" % args.node)
        elif args.verb == "drbd":
            from hastack.lab import vm

            if args.action == "up":
                vm.up(lab, manager=args.manager)
            else:
                vm.down(lab)
        elif args.verb == "heal":
            lab.node(args.node)
            net.heal(args.node)
            print("[lab] %s back on the bridge" % args.node)
    except LabError as exc:
        print("hastack lab %s: %s" % (args.verb, exc), file=sys.stderr)
        return 1
    return 0


def _print_status(status, as_json):
    if as_json:
        print(json.dumps(status, indent=1, sort_keys=True))
        return 0
    if not status["up"]:
        print("lab: down")
        return 0
    print("lab: image %s, salt-master %s" % (status["image"],
                                            "pid %s" % status["master"] if status["master"]
                                            else "NOT RUNNING"))
    print("%-6s %-15s %-5s %-10s %s" % ("node", "address", "power", "system", "network"))
    for name, node in status["nodes"].items():
        print("%-6s %-15s %-5s %-10s %s" % (name, node["address"], node["power"], node["system"],
                                            "PARTITIONED" if node["partitioned"] else "ok"))
    return 0


def parser():
    p = argparse.ArgumentParser(prog="hastack", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check a topology pillar offline")
    v.add_argument("files", nargs="+", help="pillar SLS files (YAML), merged in order")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("secrets", help="create or complete the generated secrets pillar")
    s.add_argument("--out", required=True, help="e.g. pillar/hastack/secrets.sls")
    s.add_argument("--topology", help="the topology SLS, for per-user passwords it declares")
    s.set_defaults(func=cmd_secrets)

    lab = sub.add_parser("lab", help="the lab of nspawn nodes with a salt-master")
    verbs = lab.add_subparsers(dest="verb", required=True)
    up = verbs.add_parser("up", help="build/reuse the image, boot the nodes, deploy")
    up.add_argument("--controllers", type=int, default=3)
    up.add_argument("--network", type=int, default=2)
    up.add_argument("--no-deploy", action="store_true", help="stop before orch.deploy")
    verbs.add_parser("down", help="remove nodes, master, bridge, mounts; keep the image")
    verbs.add_parser("prune-images", help="remove cached images of other recipes")
    st = verbs.add_parser("status", help="nodes, power, boot state, partitions")
    st.add_argument("--json", action="store_true")
    ex = verbs.add_parser("exec", help="run a command in a node: exec NODE -- CMD ...")
    ex.add_argument("node")
    ex.add_argument("argv", nargs=argparse.REMAINDER)
    for verb, text in (("kill", "hard power loss of a node (its disk stays)"),
                       ("start", "boot a powered-off node"),
                       ("partition", "cut a node off the bridge (nftables)"),
                       ("heal", "undo partition")):
        verbs.add_parser(verb, help=text).add_argument("node")
    dr = verbs.add_parser("drbd", help="the DRBD VMs db1/db2: build/boot/deploy, or remove")
    dr.add_argument("action", choices=["up", "down"])
    dr.add_argument("--manager", choices=["hastack", "pacemaker"], default="hastack",
                    help="who promotes DRBD and runs MariaDB on it: hastack's runner and "
                         "reactor (default), or Pacemaker on db1/db2")
    lab.set_defaults(func=cmd_lab)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    sys.exit(args.func(args))


if __name__ == "__main__":
    main()
