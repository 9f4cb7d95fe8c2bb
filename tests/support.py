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


def shared_media(relative: str) -> Path:
    """A file of ../shared/media (e.g. "video/tango_speaker7.mp4"); the test is skipped where it is absent."""
    import pytest

    path = MEDIA_DIR / relative
    if not path.is_file():
        pytest.skip(f"shared media {relative} is absent")
    return path
