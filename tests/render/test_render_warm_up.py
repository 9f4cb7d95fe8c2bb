"""A render replica pays lip sync's first-call imports (librosa's filters, scipy.signal: about a second, holding
the interpreter) when it starts, not during the first live stream, where another stream may already be playing."""
from __future__ import annotations

import subprocess
import sys


def test_a_built_render_service_has_already_imported_lip_sync_features():
    probe = ("import sys; from tango.render.server import build, load_config; "
             "before = 'scipy.signal' in sys.modules; build(load_config()).warm_up(); "
             "print(before, 'librosa.filters' in sys.modules and 'scipy.signal' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.split() == ["False", "True"]
