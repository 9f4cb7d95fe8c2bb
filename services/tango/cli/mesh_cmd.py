"""`tango mesh up | status | down`: the local mesh of loopback services."""
from __future__ import annotations

import json
import sys

from tango.mesh.components import parse_replicas
from tango.mesh.mesh import LocalMesh, default_home
from tango.runtime.auth import TOKEN_FILE


def register(subparsers) -> None:
    parser = subparsers.add_parser("mesh", help="start, inspect or stop the local mesh")
    parser.add_argument("action", choices=("up", "status", "down"))
    parser.add_argument("--base-port", type=int, default=50050)
    parser.add_argument("--replicas", default="", metavar="NAME=N,...",
                        help="processes per component, e.g. perception=2,render=2; replica k listens on the ports + 200*k "
                             "(callers reach them all round robin)")
    parser.add_argument("--tls", action="store_true",
                        help="mutual TLS between every member, with a throw-away CA made in TANGO_HOME/tls")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args) -> int:
    mesh = LocalMesh(default_home(), base_port=args.base_port, replicas=parse_replicas(args.replicas),
                     tls=True if args.tls else None)
    if args.action == "up":
        mesh.up(log=lambda line: print(line, file=sys.stderr))
        print(json.dumps(mesh.status()) if args.json else
              f"mesh is up; callers send the development token in {mesh.home / TOKEN_FILE} (the tango CLI does)")
        return 0
    if args.action == "down":
        stopped = mesh.down()
        print(json.dumps({"stopped": stopped}) if args.json else f"stopped: {', '.join(stopped) or 'nothing'}")
        return 0
    status = mesh.status()
    if args.json:
        print(json.dumps(status))
    else:
        for member in status or [{"name": "(no mesh running)", "pid": "", "address": "", "ready": False, "metrics": "",
                                  "restarts": 0}]:
            print(f"{member['name']:<13} {member['address']:<17} pid {member['pid']!s:<8} "
                  f"{'READY' if member['ready'] else 'DOWN':<5}  restarts {member['restarts']:<3} {member['metrics']}")
        if status and not status[0]["supervised"]:
            print("(no supervisor: dead members stay down until `tango mesh up`)")
    return 0 if status and all(m["ready"] for m in status) else 1
