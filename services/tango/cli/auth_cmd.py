"""`tango auth key --tenant T`: a new API key for a team, and the line that admits it (for the keys Secret)."""
from __future__ import annotations

import json

from tango.runtime.tokens import api_key_line, new_api_key


def register(subparsers) -> None:
    parser = subparsers.add_parser("auth", help="make credentials for callers of the orchestrator")
    actions = parser.add_subparsers(dest="action", required=True)
    key = actions.add_parser("key", help="a new API key: give the key to the team, the line to the keys Secret")
    key.add_argument("--tenant", required=True, help="1-63 lower-case letters, digits and '-'")
    key.add_argument("--json", action="store_true")
    key.set_defaults(func=run_key)


def run_key(args) -> int:
    key = new_api_key()
    line = api_key_line(args.tenant, key)
    if args.json:
        print(json.dumps({"tenant": args.tenant, "key": key, "api_keys_line": line}))
    else:
        print(f"key (give it to the team; it is not stored anywhere): {key}\n"
              f"line for the api_keys Secret (only the hash):       {line}")
    return 0
