"""`tango aumoclip train | eval`: the audio–motion embedding on paired data (local, no services).

--pairs takes a PREFIX whose .npz (BEAT2 SMPL-X), .wav and optional .TextGrid belong together, a
perception artifact URI, or a video (perceived through the perception service first).
"""
from __future__ import annotations

import json
from pathlib import Path

from tango.runtime.errors import InvalidArgument


def register(subparsers) -> None:
    parser = subparsers.add_parser("aumoclip", help="train and evaluate the AuMoCLIP embedding")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train")
    train.add_argument("--pairs", nargs="+", required=True)
    train.add_argument("--split", default="first80", choices=("all", "first80", "last20"))
    train.add_argument("--out", required=True)
    train.add_argument("--max-minutes", type=float, default=5.0)
    train.add_argument("--epochs", type=int, default=None,
                       help="default: the fixed step budget (deterministic); --max-minutes is only a safety cap")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--text", action="store_true", help="add MiniLM word features of the transcript")
    train.add_argument("--keyframe-masking", action="store_true", help="KMM density-based key-frame masking")
    train.add_argument("--no-resume", action="store_true")
    train.set_defaults(func=run_train)
    evaluate = actions.add_parser("eval")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--pairs", nargs="+", required=True)
    evaluate.add_argument("--split", default="last20", choices=("all", "first80", "last20"))
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--picks", type=int, default=2000)
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=run_eval)


def load_pairs_of(sources: list[str], split: str, text: bool):
    """Pairs from BEAT2 prefixes, perception artifacts or videos, cut to `split`."""
    from tango.aumoclip.data import load_pairs, pairs_from_perception, split_pair
    from tango.aumoclip.text_features import MiniLMWordEncoder, TranscriptFeaturizer
    from tango.cli.perceive_cmd import perception_artifact

    featurizer = TranscriptFeaturizer(MiniLMWordEncoder()) if text else None
    pairs = []
    for source in sources:
        if Path(source + ".npz").is_file():
            pairs += load_pairs(source, text_featurizer=featurizer)
        else:
            artifact = perception_artifact(source)
            audio = artifact.audio()
            if audio is None:
                raise InvalidArgument(f"{source} has no audio", reason="REFERENCE_WITHOUT_AUDIO")
            pairs += pairs_from_perception(artifact.arrays, artifact.meta, audio, name=Path(source).stem)
    return [split_pair(pair, split) for pair in pairs]


def run_train(args) -> int:
    from tango.aumoclip.config import AuMoCLIPConfig
    from tango.aumoclip.keyframes import KeyframeConfig
    from tango.aumoclip.train import TrainConfig, result_json, train
    from tango.cli.progress import ProgressReporter

    pairs = load_pairs_of(args.pairs, args.split, args.text)
    representation = pairs[0].representation
    config = AuMoCLIPConfig.for_representation(representation, text_dim=384 if args.text else 0)
    train_config = TrainConfig(keyframes=KeyframeConfig(enabled=True)) if args.keyframe_masking else TrainConfig()
    reporter = ProgressReporter("train")
    result = train(pairs, args.out, config, max_minutes=args.max_minutes, epochs=args.epochs, seed=args.seed,
                   resume=not args.no_resume, progress=reporter.update, train_config=train_config)
    reporter.close()
    print(result_json(result))
    return 0


def run_eval(args) -> int:
    from tango.aumoclip.checkpoint import load_checkpoint
    from tango.aumoclip.evaluate import EvalConfig, evaluate

    model = load_checkpoint(args.checkpoint)
    pairs = load_pairs_of(args.pairs, args.split, text=model.config.text_dim > 0)
    results = [evaluate(model, pair, EvalConfig(picks=args.picks, seed=args.seed)) for pair in pairs]
    result = results[0] if len(results) == 1 else {"pairs": results}
    result.update(checkpoint=str(args.checkpoint), split=args.split)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
