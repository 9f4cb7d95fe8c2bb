"""`tango mesh up | status | down | chaos`: the local mesh of loopback services (chaos: jobs while members are
killed at random; see `tango.mesh.chaos`)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from google.longrunning import operations_pb2, operations_pb2_grpc

from tango.mesh.chaos import Chaos
from tango.mesh.components import parse_replicas
from tango.mesh.mesh import LocalMesh, default_home
from tango.orchestrator.v1 import orchestrator_service_pb2 as pb
from tango.orchestrator.v1 import orchestrator_service_pb2_grpc as pb_grpc
from tango.runtime.auth import TOKEN_FILE
from tango.runtime.errors import FailedPrecondition, InvalidArgument


def register(subparsers) -> None:
    parser = subparsers.add_parser("mesh", help="start, inspect or stop the local mesh")
    parser.add_argument("action", choices=("up", "status", "down", "chaos"))
    parser.add_argument("--base-port", type=int, default=50050)
    parser.add_argument("--replicas", default="", metavar="NAME=N,...",
                        help="processes per component, e.g. perception=2,render=2; replica k listens on the ports + 200*k "
                             "(callers reach them all round robin)")
    parser.add_argument("--tls", action="store_true",
                        help="mutual TLS between every member, with a throw-away CA made in TANGO_HOME/tls")
    parser.add_argument("--json", action="store_true")
    chaos = parser.add_argument_group("chaos")
    chaos.add_argument("--reference", type=Path, help="the speaker's footage (its speaker is made before the chaos)")
    chaos.add_argument("--audio", type=Path, nargs="+", help="speech tracks, used in turn by the jobs")
    chaos.add_argument("--jobs", type=int, default=20)
    chaos.add_argument("--interval", type=float, default=20.0, help="seconds between kills (± half)")
    chaos.add_argument("--seed", type=int, default=None)
    parser.set_defaults(func=run)


def run(args) -> int:
    mesh = LocalMesh(default_home(), base_port=args.base_port, replicas=parse_replicas(args.replicas),
                     tls=True if args.tls else None)
    if args.action == "up":
        mesh.up(log=lambda line: print(line, file=sys.stderr))
        print(json.dumps(mesh.status()) if args.json else
              f"mesh is up; callers send the development token in {mesh.home / TOKEN_FILE} (the tango CLI does)")
        return 0
    if args.action == "chaos":
        return run_chaos(mesh, args)
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


def run_chaos(mesh: LocalMesh, args) -> int:
    if not (args.reference and args.audio):
        raise InvalidArgument("tango mesh chaos needs --reference and --audio", reason="MISSING_CHAOS_INPUTS")
    mesh.up(log=lambda line: print(line, file=sys.stderr))
    request = pb.CreateSpeakerRequest(request_id=f"chaos-speaker-{args.reference.name}",
                                      reference_uris=[str(args.reference.resolve())])
    with mesh.channel("orchestrator") as channel:
        operation = pb_grpc.OrchestratorServiceStub(channel).CreateSpeaker(request, timeout=60)
        while not operation.done:
            operation = operations_pb2_grpc.OperationsStub(channel).WaitOperation(
                operations_pb2.WaitOperationRequest(name=operation.name), timeout=3600)
    if operation.HasField("error"):
        raise FailedPrecondition(f"the speaker could not be made: {operation.error.message}", reason="CHAOS_NO_SPEAKER")
    speaker = pb.Speaker()
    operation.response.Unpack(speaker)
    print(f"speaker {speaker.name}; {args.jobs} jobs while members are killed every ~{args.interval:g} s",
          file=sys.stderr)
    figures = Chaos(mesh, speaker.name, [a.resolve() for a in args.audio], jobs=args.jobs, interval_s=args.interval,
                    seed=args.seed).run().figures()
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=2))
    return 0 if figures["lost"] == 0 and not figures["incomplete_artifacts"] else 1
