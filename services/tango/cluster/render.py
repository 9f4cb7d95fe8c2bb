"""Render the Helm chart `helm/tango` offline (Helm v4 library from `helm-python-sdk`, no helm binary).

`python -m tango.cluster.render` rewrites `deploy/manifests/default.yaml` (the chart rendered with its
default values); `--check` exits 1 when that file is stale; `--values FILE` renders another scenario
to stdout.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
CHART_DIR = REPO_ROOT / "helm" / "tango"
DEFAULT_MANIFESTS = REPO_ROOT / "deploy" / "manifests" / "default.yaml"
# The scenarios CI renders and validates: name -> values file (None = the chart's defaults).
SCENARIOS: dict[str, Path | None] = {
    "default": None,
    "cpu-small": CHART_DIR / "ci" / "cpu-small-values.yaml",
    "gpu-production": CHART_DIR / "ci" / "gpu-production-values.yaml",
}
# Helm's install order for the kinds this chart renders (dependencies first).
KIND_ORDER = ("NetworkPolicy", "PodDisruptionBudget", "ServiceAccount", "Role", "RoleBinding", "Secret", "ConfigMap", "PersistentVolumeClaim",
              "Service", "Deployment", "Job", "HorizontalPodAutoscaler", "ServiceMonitor")
HEADER = (
    "# Rendered from helm/tango with its default values (release `tango`, namespace `tango`).\n"
    "# Do not edit: regenerate with `python -m tango.cluster.render` (make manifests).\n"
)


@dataclasses.dataclass(frozen=True)
class RenderOptions:
    chart_dir: Path = CHART_DIR
    release: str = "tango"
    namespace: str = "tango"


@dataclasses.dataclass(frozen=True)
class RenderedObject:
    template: str  # e.g. tango/templates/perception/deployment.yaml
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]


def load_values_file(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(Path(path).read_text())
    return loaded or {}


def scenario_values(name: str) -> dict[str, Any]:
    path = SCENARIOS[name]
    return load_values_file(path) if path is not None else {}


def render_chart(values: dict[str, Any] | None = None, options: RenderOptions = RenderOptions()) -> list[RenderedObject]:
    """Every object the chart renders for `values`, in install order (schema-validated by Helm)."""
    import helm_python

    with helm_python.Chart.load(str(options.chart_dir)) as chart:
        manifests = chart.render(values or {}, name=options.release, namespace=options.namespace)
    objects = []
    for template in sorted(manifests):
        if not template.endswith((".yaml", ".yml")):
            continue  # NOTES.txt
        for body in yaml.safe_load_all(manifests[template]):
            if body:
                objects.append(RenderedObject(template=template, body=body))
    rank = {kind: index for index, kind in enumerate(KIND_ORDER)}
    return sorted(objects, key=lambda o: (rank.get(o.kind, len(rank)), o.template))


def lint_chart(values: dict[str, Any] | None = None, options: RenderOptions = RenderOptions(),
               kube_version: str = "v1.30.0") -> list[str]:
    """Helm lint findings of severity warning or error, as 'path: message' strings (empty = clean)."""
    import helm_python

    report = helm_python.lint(str(options.chart_dir), values or {}, strict=True,
                              namespace=options.namespace, kube_version=kube_version)
    findings = [f"{m['path']}: {m['error']}" for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    return findings + list(report.get("errors", []))


def manifests_yaml(objects: list[RenderedObject]) -> str:
    """One multi-document YAML stream, each document preceded by its template path."""
    parts = [HEADER]
    for obj in objects:
        parts.append(f"---\n# Source: {obj.template}\n")
        parts.append(yaml.safe_dump(obj.body, sort_keys=False, default_flow_style=False, width=120))
    return "".join(parts)


def default_manifests(options: RenderOptions = RenderOptions()) -> str:
    return manifests_yaml(render_chart(None, options))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tango.cluster.render", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if deploy/manifests/default.yaml is stale")
    parser.add_argument("--values", type=Path, help="render this values file to stdout instead")
    parser.add_argument("--output", type=Path, default=DEFAULT_MANIFESTS)
    args = parser.parse_args(argv)
    if args.values is not None:
        sys.stdout.write(manifests_yaml(render_chart(load_values_file(args.values))))
        return 0
    rendered = default_manifests()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != rendered:
            print(f"{args.output} is stale: run `python -m tango.cluster.render`", file=sys.stderr)
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(rendered)
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
