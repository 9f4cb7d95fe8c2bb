"""`make demo`: the main job on the shared media — the 22 s reference video and s2g_001.wav — through
the local mesh, writing out/demo.mp4 and its JSON sidecar."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tango.cli.main import main as tango_main
from tango.media.encode import probe_output

REFERENCE = "video/tango_female_test_V1_22s.mp4"
AUDIO = "audio/s2g_001.wav"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--media", default="../shared/media")
    parser.add_argument("--out", default="out/demo.mp4")
    args = parser.parse_args(argv)
    reference, audio = Path(args.media) / REFERENCE, Path(args.media) / AUDIO
    if not reference.is_file() or not audio.is_file():
        print(f"The demo media is not at {Path(args.media).resolve()}.\n"
              "Run the main job on your own files instead:\n"
              "  .venv/bin/tango reenact --reference SPEAKER.mp4 --audio SPEECH.wav -o out/mine.mp4\n"
              "or point the demo at a media folder: make demo MEDIA=/path/to/media", file=sys.stderr)
        return 2
    status = tango_main(["reenact", "--reference", str(reference), "--audio", str(audio), "-o", args.out, "--json"])
    if status != 0:
        return status
    probe = probe_output(args.out)
    print(json.dumps({"probe": probe}), file=sys.stderr)
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}; the local mesh keeps running "
          "(`make mesh-down` stops it)", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
