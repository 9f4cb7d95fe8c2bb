"""The live resolution ladder: the tallest rung whose predicted load fits beside the streams already live, learnt
from the render work the streams report."""
from __future__ import annotations

from tango.render.live_ladder import CALM_SEGMENTS, HeightLadder

SOURCE = (948, 1280)  # the 22 s speaker


def test_first_stream_gets_the_tallest_rung_that_fits_and_later_ones_step_down():
    ladder = HeightLadder((720, 480, 360), budget=0.45, initial_cost=1.0)
    first_height, first = ladder.open(*SOURCE)
    assert first_height == 480  # 0.31 Mpx at 1 s per Mpx-second fits 0.45; 720 (0.70) does not
    for _ in range(10):
        first.add(0.3 * 0.5, 0.5)  # it measures 0.30 s of work per second of media
    second_height, second = ladder.open(*SOURCE)
    assert second_height == 360  # 0.30 live + 0.17 predicted at 360 is over the budget: the lowest rung anyway
    first.close()
    second.close()
    assert ladder.open(*SOURCE)[0] == 480


def test_learnt_cost_moves_the_choice_and_small_sources_are_not_upscaled():
    ladder = HeightLadder((720, 480, 360), budget=0.45, initial_cost=1.0)
    height, load = ladder.open(*SOURCE)
    for _ in range(20):
        load.add(0.05, 0.5)  # a fast machine: 0.1 s of work per media second at 480 rows
    load.close()
    assert ladder.open(*SOURCE)[0] == 720
    assert ladder.open(512, 512)[0] == 512  # a 512-row source: no rung above its own height
    assert ladder.open(*SOURCE, asked=240)[0] == 240  # the caller's choice wins


def _drawn(load, segments: int, behind: bool, work_s: float = 0.1) -> list[int]:
    """The rows the next `segments` segments are drawn at, each reporting `work_s` of work per 0.5 s."""
    heights = []
    for _ in range(segments):
        heights.append(load.next_height(behind))
        load.add(work_s, 0.5)
    return heights


def test_a_stream_that_falls_behind_draws_lower_rungs_then_climbs_back_when_it_fits():
    ladder = HeightLadder((720, 480, 360), budget=0.45, initial_cost=1.0, floor=180)
    height, load = ladder.open(*SOURCE, asked=480)
    assert load.rungs == (480, 360, 180)  # its own picture, the rungs below it, the floor
    assert _drawn(load, 3, behind=False) == [480, 480, 480]
    late = _drawn(load, 9, behind=True)
    assert late[0] == 360 and late[3] == 180 and set(late[4:]) == {180}  # a step, then time to drain, never below
    calm = _drawn(load, CALM_SEGMENTS * 2, behind=False, work_s=0.05)  # 0.1 load at 180 rows: 480 fits again
    assert calm[CALM_SEGMENTS - 1] == 360 and calm[-1] == 480
    assert load.steps == {"down": 2, "up": 2}
    load.close()


def test_a_stream_stays_low_while_the_taller_rung_would_not_fit_and_steps_down_when_the_replica_is_over_budget():
    steps: list[str] = []
    ladder = HeightLadder((480, 360), budget=0.45, initial_cost=1.0, on_step=steps.append)
    _, load = ladder.open(*SOURCE, asked=480)
    _drawn(load, 1, behind=True)
    assert _drawn(load, CALM_SEGMENTS * 2, behind=False, work_s=0.2)[-1] == 360  # 0.4 at 360: 480 would be ~0.7
    _, other = ladder.open(*SOURCE, asked=360)
    other.add(0.2, 0.5)  # the replica: 0.4 + 0.4 > 1.25 x 0.45
    assert other.next_height(behind=False) == 180  # the floor; the picture stays 360 rows
    assert steps == ["down", "down"]
    load.close()
    other.close()
