"""CLI progress off a terminal: sparse lines on stderr, each state once, nothing on stdout."""
from __future__ import annotations

from tango.cli.progress import ProgressReporter


def test_progress_lines_are_sparse_and_never_repeat(capsys):
    reporter = ProgressReporter("reenact")
    for done in range(1, 6):
        reporter.update("train", done, 5)  # the first line, then within 2 s only the final state
    for _ in range(3):
        reporter.update("train", 5, 5)  # a watched operation repeating its last state
    reporter.update("render", 0, 10)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == ["reenact: train 1/5", "reenact: train 5/5", "reenact: render 0/10"]
