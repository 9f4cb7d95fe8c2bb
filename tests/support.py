"""Helpers shared by test modules (importable as `support`: tests/ is on pytest's pythonpath)."""
from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MEDIA_DIR = (REPO_ROOT / ".." / "shared" / "media").resolve()


def allowed_roots(inputs_root: Path) -> str:
    """Colon-separated input roots for services under test: the test's own folder and the shared media."""
    roots = [str(inputs_root)]
    if MEDIA_DIR.is_dir():
        roots.append(str(MEDIA_DIR))
    return ":".join(roots)
