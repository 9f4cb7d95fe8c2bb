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


def _drawn(load, segments: int, behind: bool) -> list[int]:
    """The rows the next `segments` segments are drawn at."""
    return [load.next_height(behind) for _ in range(segments)]


def test_a_stream_that_falls_behind_draws_lower_rungs_then_climbs_back():
    steps: list[str] = []
    ladder = HeightLadder((720, 480, 360), budget=0.45, initial_cost=1.0, floor=180, on_step=steps.append)
    height, load = ladder.open(*SOURCE, asked=480)
    assert load.rungs == (480, 360, 180)  # its own picture, the rungs below it, the floor
    assert _drawn(load, 3, behind=False) == [480, 480, 480]
    late = _drawn(load, 9, behind=True)
    assert late[0] == 360 and late[3] == 180 and set(late[4:]) == {180}  # a step, then time to drain, never below
    calm = _drawn(load, 2 * CALM_SEGMENTS, behind=False)
    assert calm[CALM_SEGMENTS - 2] == 180 and calm[CALM_SEGMENTS - 1] == 360 and calm[-1] == 480
    assert steps == ["down", "down", "up", "up"] and load.steps == {"down": 2, "up": 2}
    load.close()


def test_a_stream_that_falls_behind_right_after_climbing_waits_twice_as_long():
    ladder = HeightLadder((360,), budget=0.45, initial_cost=1.0, floor=180)
    _, load = ladder.open(*SOURCE, asked=360)
    _drawn(load, 1, behind=True)
    assert _drawn(load, CALM_SEGMENTS, behind=False)[-1] == 360  # climbed after CALM_SEGMENTS
    _drawn(load, 1, behind=True)  # ... and fell behind at once: back down
    assert _drawn(load, 2 * CALM_SEGMENTS, behind=False)[2 * CALM_SEGMENTS - 2:] == [180, 360]
    load.close()


def test_a_floor_of_zero_keeps_every_frame_at_the_pictures_height():
    _, load = HeightLadder((480, 360), budget=0.45, floor=0).open(*SOURCE, asked=480)
    assert load.rungs == (480,) and set(_drawn(load, 10, behind=True)) == {480}
    load.close()
