"""A cue file (`tango reenact ... --cues FILE`): a producer's directions as JSON, read into `ScriptCues`.

    {"emphasis": [{"word": "three", "occurrence": 2}, {"time_s": 4.2}],
     "gesture":  [{"word": "reasons", "occurrence": 1, "name": "count"}],
     "rest":     [{"start_s": 8.0, "end_s": 10.5}],
     "avoid":    [{"start_s": 12.0, "end_s": 14.0, "reference": 0}]}

Target times for emphasis, gesture and rest; reference times (of reference video `reference`, default 0) for
avoid. Occurrences count from 1. Any other key, or a value of the wrong type, is refused with BAD_CUE_FILE.
"""
from __future__ import annotations

import json
from pathlib import Path

from google.protobuf import json_format

from tango.runtime.errors import InvalidArgument
from tango.type.v1 import types_pb2

KINDS = ("emphasis", "gesture", "rest", "avoid")
ANCHOR_KEYS = ("word", "occurrence", "time_s")


def read_cue_file(path: str | Path) -> types_pb2.ScriptCues:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidArgument(f"cannot read the cue file {path}: {error}", reason="BAD_CUE_FILE") from error
    return cues_of(document, str(path))


def cues_of(document, where: str = "cues") -> types_pb2.ScriptCues:
    """The `ScriptCues` of a parsed cue document (gesture entries carry their anchor's keys flat)."""
    if not isinstance(document, dict) or set(document) - set(KINDS):
        raise InvalidArgument(f"{where}: a cue file is an object with keys among {', '.join(KINDS)}",
                              reason="BAD_CUE_FILE")
    message = dict(document)
    gestures = message.get("gesture", [])
    if not isinstance(gestures, list) or not all(isinstance(g, dict) for g in gestures):
        raise InvalidArgument(f"{where}: 'gesture' is a list of objects", reason="BAD_CUE_FILE")
    message["gesture"] = [{"name": g.get("name", ""), "at": {k: g[k] for k in ANCHOR_KEYS if k in g},
                           **{k: v for k, v in g.items() if k not in (*ANCHOR_KEYS, "name")}} for g in gestures]
    try:
        return json_format.ParseDict(message, types_pb2.ScriptCues())
    except json_format.ParseError as error:
        raise InvalidArgument(f"{where}: {error}", reason="BAD_CUE_FILE") from error
