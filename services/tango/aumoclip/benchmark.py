"""The AuMoCLIP benchmark: train on the first 80 % of a BEAT2 recording, evaluate on the last 20 %.

    python -m tango.aumoclip.benchmark PREFIX OUT_DIR [--minutes 5] [--seed 0]

prints one JSON object: the evaluation figures (evaluate.py) plus training steps, epochs and seconds.
Training runs the fixed step budget of TrainConfig (deterministic per seed); `--minutes` only caps it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from tango.aumoclip.checkpoint import load_checkpoint
from tango.aumoclip.config import AuMoCLIPConfig
from tango.aumoclip.data import load_pairs, split_pair
from tango.aumoclip.evaluate import EvalConfig, evaluate
from tango.aumoclip.train import TrainConfig, train, training_device

BENCHMARK_TRAINING = TrainConfig()  # the fixed step budget; --minutes is only a safety cap


def run_benchmark(prefix: str | Path, out_dir: str | Path, minutes: float = 5.0, seed: int = 0,
                  config: AuMoCLIPConfig | None = None, train_config: TrainConfig = BENCHMARK_TRAINING,
                  eval_config: EvalConfig = EvalConfig(), device: str = "cpu") -> dict:
    (pair,) = load_pairs(prefix)
    training, held_out = split_pair(pair, "first80"), split_pair(pair, "last20")
    config = config or AuMoCLIPConfig.for_representation("smplx")
    result = train([training], out_dir, config, max_minutes=minutes, epochs=None, seed=seed, resume=False,
                   train_config=train_config, device=device)
    figures = evaluate(load_checkpoint(out_dir), held_out, eval_config)
    figures.update(train_steps=result.steps, train_epochs=result.epochs, train_seconds=round(result.seconds, 1),
                   seconds_per_epoch=round(result.seconds_per_epoch, 2), stopped_by=result.stopped_by,
                   train_frames=training.frames, test_frames=held_out.frames, device=str(training_device(device)))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("prefix")
    parser.add_argument("out_dir")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    args = parser.parse_args(argv)
    print(json.dumps(run_benchmark(args.prefix, args.out_dir, args.minutes, args.seed, device=args.device), indent=1))


if __name__ == "__main__":
    main()
