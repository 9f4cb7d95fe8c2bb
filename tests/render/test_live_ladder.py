"""The live resolution ladder: the tallest rung whose predicted load fits beside the streams already live, learnt
from the render work the streams report."""
from __future__ import annotations

from tango.render.live_ladder import HeightLadder

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
