"""`tango trainer train`: train a speaker's AuMoCLIP from its perception artifacts into the artifact store.

What the Kubernetes Job launched by the trainer service runs (`TANGO_TRAINER_EXECUTOR=kubernetes`); it
also works by hand. Storage comes from TANGO_DATA_URI; prints the checkpoint id.
"""
from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser("trainer", help="train a speaker model (what the trainer's Kubernetes Job runs)")
    actions = parser.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train the speaker AuMoCLIP of perception artifacts")
    train.add_argument("--perception", nargs="+", required=True, help="perception artifact URIs of the references")
    train.add_argument("--max-minutes", type=float, default=0.0, help="cap on the training (0 = TANGO_TRAINER_TRAIN_MINUTES)")
    train.add_argument("--device", default="", help="cpu, cuda, cuda:N or auto (default: TANGO_TRAINER_DEVICE)")
    train.add_argument("--json", action="store_true")
    train.set_defaults(func=run_train)


def run_train(args) -> int:
    from pathlib import Path

    from tango.artifacts.store import ArtifactStore
    from tango.runtime.logs import configure_logging
    from tango.trainer.config import TrainerConfig
    from tango.trainer.training import KIND, plan_training, train_locally

    config = TrainerConfig.from_env("trainer")
    configure_logging("trainer-job", config.log_level)
    store = ArtifactStore(config.data_uri)
    plan = plan_training(store, args.perception, args.max_minutes or config.train_minutes)
    cache_hit = store.exists(KIND, plan.key)
    if not cache_hit:
        work_root = Path(config.work_dir) if config.work_dir else Path(store.cache_dir) / "training"
        train_locally(store, plan, work_root, _print_progress, lambda: False, args.device or config.device)
    summary = {"checkpoint": plan.key, "uri": store.uri(KIND, plan.key), "cache_hit": cache_hit}
    print(json.dumps(summary) if args.json else plan.key)
    return 0


def _print_progress(stage: str, done: int, total: int) -> None:
    print(f"{stage} {done}/{total}", file=sys.stderr, flush=True)
