"""Fixture of the deployment tests: the chart rendered once per CI scenario."""
from __future__ import annotations

import pytest

from tango.cluster.render import SCENARIOS, RenderedObject, render_chart, scenario_values


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[RenderedObject]]:
    """Scenario name -> every object the chart renders for it."""
    pytest.importorskip("helm_python")
    return {name: render_chart(scenario_values(name)) for name in SCENARIOS}
