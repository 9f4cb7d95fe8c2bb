"""Which models of a model repository a Triton serves when none are named.

Every model directory (`<name>/config.pbtxt`) is served, except a model whose weights are not installed:
it could only fail to load and, under `--strict-readiness`, keep the whole server unready. Today that is
`interp_acinterp`: diffusion weights are an operator's install (layout in `tango.acinterp.weights`), looked
up where the model itself looks (its `weights_dir` parameter, or TANGO_ACINTERP_WEIGHTS).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

ACINTERP_MODEL = "interp_acinterp"
_STRING_PARAMETER = re.compile(r'key:\s*"(?P<key>[^"]+)"\s*value:\s*\{\s*string_value:\s*"(?P<value>[^"]*)"\s*\}')


def repository_models(repository: Path) -> tuple[str, ...]:
    """Names of the model directories of a repository, sorted."""
    return tuple(sorted(p.name for p in Path(repository).iterdir() if (p / "config.pbtxt").is_file()))


def model_parameters(model_dir: Path) -> dict[str, str]:
    """The string `parameters` of a model's config.pbtxt."""
    text = (Path(model_dir) / "config.pbtxt").read_text()
    return {m["key"]: m["value"] for m in _STRING_PARAMETER.finditer(text)}


def latest_version_dir(model_dir: Path) -> Path:
    """The highest numeric version folder (Triton's default version policy), else `1`."""
    versions = [int(p.name) for p in Path(model_dir).iterdir() if p.is_dir() and p.name.isdigit()]
    return Path(model_dir) / str(max(versions, default=1))


def missing_weights(model_dir: Path, env: Mapping[str, str]) -> str | None:
    """Why a model cannot load for want of weights, or None when it can (or needs none)."""
    if Path(model_dir).name != ACINTERP_MODEL:
        return None
    from tango.acinterp.config import CONFIG_FILE
    from tango.acinterp.serving import ACInterpServingConfig

    serving = ACInterpServingConfig.from_parameters(model_parameters(model_dir), latest_version_dir(model_dir),
                                                    env=env)
    if (serving.weights_dir / CONFIG_FILE).is_file():
        return None
    return f"no ACInterp weights at {serving.weights_dir} (install them there or set TANGO_ACINTERP_WEIGHTS)"


def servable_models(repository: Path, env: Mapping[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """(models to load, {model left out: why}) for a Triton started without a model list."""
    served, skipped = [], {}
    for name in repository_models(repository):
        reason = missing_weights(Path(repository) / name, env)
        if reason is None:
            served.append(name)
        else:
            skipped[name] = reason
    return tuple(served), skipped
