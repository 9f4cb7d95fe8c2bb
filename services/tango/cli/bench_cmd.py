"""`tango bench` (`make bench`): measured figures of every stage, printed as one JSON object."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

SECTIONS = ("perception", "ingest_replicas", "render_replicas", "graph", "aumoclip", "triton", "acinterp", "retrieval", "cues",
            "interp", "lipsync", "end_to_end")


def register(subparsers) -> None:
    parser = subparsers.add_parser("bench", help="run the benchmarks and print JSON figures")
    parser.add_argument("--media", default=str(Path.cwd().parent / "shared" / "media"))
    parser.add_argument("--only", nargs="*", choices=SECTIONS, default=list(SECTIONS))
    parser.set_defaults(func=run)


def run(args) -> int:
    media = Path(args.media)
    figures: dict = {}
    for section in args.only:
        started = time.perf_counter()
        print(f"bench: {section} ...", file=sys.stderr, flush=True)
        figures[section] = globals()[f"_{section}"](media)
        print(f"bench: {section} done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    print(json.dumps(figures, indent=2))
    return 0


def _perception(media: Path) -> dict:
    from tango.perception.bench import perception_benchmark

    return perception_benchmark(media / "video" / "tango_female_test_V1_22s.mp4")


def _ingest_replicas(media: Path) -> dict:
    """Ingest time of the 22 s reference with 1 and 2 perception replicas (ranges in parallel, merged)."""
    from tango.mesh.bench import ingest_replicas_benchmark

    return ingest_replicas_benchmark(media / "video" / "tango_female_test_V1_22s.mp4")


def _render_replicas(media: Path) -> dict:
    """Reenactment jobs per minute with 1 and 2 render replicas on the local mesh (same run, ratio)."""
    from tango.mesh.bench import render_replicas_benchmark

    audios = [media / "audio" / name for name in ("s2g_001.wav", "s2g_002.wav", "s2g_003.wav", "talkshow_1st-page.wav")]
    return render_replicas_benchmark(media / "video" / "tango_female_test_V1_22s.mp4", audios)


def _graph(media: Path) -> dict:
    from tango.graph.bench import bench_graph_build, bench_real_video

    return {"real_22s": bench_real_video(media / "video" / "tango_female_test_V1_22s.mp4"),
            "synthetic_4500": bench_graph_build(4500), "synthetic_27000": bench_graph_build(27000)}


def _aumoclip(media: Path) -> dict:
    """Training speed on the BEAT2 pair: the fixed step budget (~4.5 min on 2 idle cores; on a GPU where torch
    sees one), then the held-out eval."""
    import tempfile

    from tango.aumoclip.benchmark import run_benchmark

    with tempfile.TemporaryDirectory(prefix="tango-bench-aumoclip-") as out:
        return run_benchmark(media / "motion" / "2_scott_0_1_1", out, minutes=5.0, seed=0, device="auto")


def _acinterp(media: Path) -> dict:
    """The real-size ACInterp drawing an HD window on a GPU (skipped without one)."""
    from tango.acinterp.bench import acinterp_speed_benchmark

    return acinterp_speed_benchmark()


def _triton(media: Path) -> dict:
    from tango.triton.bench import triton_benchmark

    return triton_benchmark()


def _cues(media: Path) -> dict:
    """Script cue compliance over the shared speech tracks (the 22 s speaker, a tagged gesture and avoid span)."""
    from tango.mesh.cue_bench import cue_compliance_benchmark

    return cue_compliance_benchmark(media / "video" / "tango_female_test_V1_22s.mp4", sorted((media / "audio").glob("*.wav")))


def _retrieval(media: Path) -> dict:
    from tango.retrieval.bench import bench_search

    return {f"{mode}_{nodes}x{steps}": bench_search(nodes, steps, mode)
            for nodes in (4500, 27000) for steps in (450, 2250) for mode in ("dp", "beam", "onset", "random")}


def _interp(media: Path) -> dict:
    """Held-out gaps at 640 px, and the jumps retrieval takes at source resolution (flow, crossfade, layered)."""
    import tempfile

    from tango.cli.interp_cmd import speaker_artifacts
    from tango.cli.progress import ProgressReporter
    from tango.interp.bench import interp_benchmark
    from tango.interp.jump_eval import JumpEvalConfig, evaluate_jumps

    video = media / "video" / "tango_female_test_V1_22s.mp4"
    figures = interp_benchmark(video)
    graph, perception = speaker_artifacts(str(video), ProgressReporter("graph"))
    with tempfile.TemporaryDirectory(prefix="tango-bench-jumps-") as out:
        jumps = evaluate_jumps(video, graph, perception, Path(out) / "strip.png", JumpEvalConfig(windows=6, gaps=4))
    figures["taken_jumps"] = {"windows": jumps["windows"], "models": jumps["models"]}
    return figures


def _lipsync(media: Path) -> dict:
    from tango.lipsync.bench import lipsync_benchmark

    return {"anchor_20s": lipsync_benchmark(media / "video" / "mimictalk_German_20s.mp4",
                                            media / "audio" / "s2g_001.wav"),
            "speaker_22s": lipsync_benchmark(media / "video" / "tango_female_test_V1_22s.mp4",
                                             media / "audio" / "s2g_001.wav")}


def _end_to_end(media: Path) -> dict:
    from tango.mesh.bench import end_to_end_benchmark

    return end_to_end_benchmark(media / "video" / "tango_female_test_V1_22s.mp4", media / "audio" / "s2g_001.wav")
