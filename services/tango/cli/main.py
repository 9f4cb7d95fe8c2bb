"""The `tango` command line. Each command lives in its own module exposing `register(subparsers)`."""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from tango.runtime.errors import TangoError

COMMAND_MODULES = (
    "tango.cli.serve_cmd",
    "tango.cli.mesh_cmd",
    "tango.cli.auth_cmd",
    "tango.cli.perceive_cmd",
    "tango.cli.graph_cmd",
    "tango.cli.aumoclip_cmd",
    "tango.cli.trainer_cmd",
    "tango.cli.retrieve_cmd",
    "tango.cli.interp_cmd",
    "tango.cli.lipsync_cmd",
    "tango.cli.transcribe_cmd",
    "tango.cli.reenact_cmd",
    "tango.cli.live_cmd",
    "tango.cli.cluster_cmd",
    "tango.cli.bench_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tango", description="Co-speech gesture video reenactment (TANGO).")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TangoError as error:
        print(f"tango: error [{error.reason}]: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
