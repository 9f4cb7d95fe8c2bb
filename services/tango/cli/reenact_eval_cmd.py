"""`tango reenact eval VIDEO [VIDEO ...] --json`: self-reenactment, in this process (no mesh).

For each video: perception (MediaPipe, in-process), a speaker made from its first 75 % (motion graph +
per-speaker AuMoCLIP trained as at ingest, or `--checkpoint DIR`), the audio of its last 25 % reenacted by the
`dp` search and the `random` / `onset` baselines, each compared with the real motion of that stretch
(`tango.retrieval.self_eval`). One JSON object per video (`{"videos": [...]}` for several); a video that cannot
be evaluated (too short to train a speaker: give `--checkpoint`) gets `error` and `reason` instead.
`--work DIR` keeps the perception and the speaker model of each video there, so a rerun reuses them.
`--folds K` makes each 1/K of the video the target in turn (one speaker model per fold, figures averaged):
K times the speech behind each figure. A `--checkpoint` is then shared by every fold, so unless it was trained
elsewhere it has heard some of the targets.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tango.runtime.errors import TangoError


def register(actions) -> None:
    """`eval` under `tango reenact`'s actions."""
    parser = actions.add_parser("eval", help="self-reenactment: do the retrieved gestures follow the speech? "
                                             "(local, no services)")
    parser.add_argument("videos", nargs="+", help="reference video(s), each evaluated on its own")
    parser.add_argument("--checkpoint", default=None,
                        help="an AuMoCLIP checkpoint directory instead of training a speaker model per video")
    parser.add_argument("--prosody", action="store_true", help="speaker models with pitch and energy")
    parser.add_argument("--reference-fraction", type=float, default=0.75)
    parser.add_argument("--folds", type=int, default=1,
                        help="K > 1: each 1/K of the video in turn is the target (one speaker model per fold)")
    parser.add_argument("--energy-weight", type=float, default=None,
                        help="the search's loudness following (default: the product's; 0 = off)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=30.0,
                        help="safety cap on each speaker model's training (its fixed step budget decides)")
    parser.add_argument("--work", default=None, help="keep perception and speaker models here (default: a temp dir)")
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def _perception(video: Path, work: Path) -> tuple[dict, dict, np.ndarray]:
    """(arrays, meta, audio) of a video: analysed in-process, kept in `work` (npz without pickle + JSON)."""
    from tango.perception.pipeline import analyze_video
    from tango.runtime.errors import InvalidArgument

    arrays_file, meta_file = work / "perception.npz", work / "perception.json"
    if arrays_file.is_file() and meta_file.is_file():
        with np.load(arrays_file, allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
        return {k: v for k, v in stored.items() if k != "_audio"}, json.loads(meta_file.read_text()), stored["_audio"]
    result = analyze_video(video)
    if result.audio is None:
        raise InvalidArgument(f"{video} has no audio", reason="REFERENCE_WITHOUT_AUDIO")
    np.savez(arrays_file, _audio=result.audio, **result.arrays)
    meta_file.write_text(json.dumps(result.meta))
    return result.arrays, result.meta, result.audio


def _trainer(args):
    from tango.aumoclip.checkpoint import load_checkpoint
    from tango.aumoclip.speaker import speaker_config, train_speaker_model

    def train_model(pairs, work_dir):
        if args.checkpoint:
            return load_checkpoint(args.checkpoint)
        config = speaker_config(pairs[0].representation, prosody=args.prosody)
        train_speaker_model(pairs, work_dir / "speaker", seed=args.seed, config=config, max_minutes=args.max_minutes)
        return load_checkpoint(work_dir / "speaker")

    return train_model


def evaluate_video(video: str, args, root: Path) -> dict:
    from tango.retrieval.options import SearchOptions
    from tango.retrieval.self_eval import SelfEvalConfig, self_reenact

    started = time.perf_counter()
    work = root / Path(video).stem
    work.mkdir(parents=True, exist_ok=True)
    try:
        arrays, meta, audio = _perception(Path(video), work)
        search = SearchOptions() if args.energy_weight is None else SearchOptions(energy_weight=args.energy_weight)
        config = SelfEvalConfig(reference_fraction=args.reference_fraction, seed=args.seed, folds=args.folds,
                                search=search)
        report = self_reenact(arrays, meta, audio, work, _trainer(args), config)
    except TangoError as error:
        return {"video": Path(video).name, "error": error.message, "reason": error.reason}
    own = str(work / "speaker") if args.folds <= 1 else [str(work / f"fold{k}" / "speaker") for k in range(args.folds)]
    checkpoint = args.checkpoint or own
    return {"video": Path(video).name, **report, "checkpoint": checkpoint,
            "seconds": round(time.perf_counter() - started, 1)}


def run(args) -> int:
    with tempfile.TemporaryDirectory(prefix="tango-reenact-eval-") as scratch:
        root = Path(args.work) if args.work else Path(scratch)
        results = []
        for video in args.videos:
            results.append(evaluate_video(video, args, root))
            print(f"reenact eval: {video} done", file=sys.stderr)
    document = results[0] if len(results) == 1 else {"videos": results}
    print(json.dumps(document) if args.json else json.dumps(document, indent=2))
    return 0
