"""The components of the local mesh, in start order, with their default loopback ports."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    port: int  # gRPC port (Triton: its gRPC port; HTTP = port - 1, metrics = port + 1)
    metrics_port: int
    is_triton: bool = False

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ports(self) -> tuple[int, ...]:
        """Every loopback port the component listens on."""
        return (self.port - 1, self.port, self.metrics_port) if self.is_triton else (self.port, self.metrics_port)


def default_components(base_port: int = 50050) -> list[Component]:
    """Triton first (others call it), the orchestrator last (it calls everyone)."""
    return [
        Component("triton", base_port + 11, base_port + 12, is_triton=True),
        Component("perception", base_port + 1, base_port + 101),
        Component("graph", base_port + 2, base_port + 102),
        Component("retrieval", base_port + 3, base_port + 103),
        Component("orchestrator", base_port, base_port + 100),
    ]


def available_components(components: list[Component]) -> list[Component]:
    """The components whose server module exists in this build."""
    import importlib.util  # noqa: F401

    def present(component: Component) -> bool:
        module = "tango.triton.launcher" if component.is_triton else f"tango.{component.name}.server"
        return importlib.util.find_spec(module) is not None

    return [c for c in components if present(c)]


def mesh_environment(components: list[Component], data_uri: str, allowed_roots: str) -> dict[str, str]:
    """Environment shared by every process of the mesh: ports, upstream addresses, storage."""
    by_name = {c.name: c for c in components}
    env = {"TANGO_DATA_URI": data_uri, "TANGO_ALLOWED_ROOTS": allowed_roots}
    if data_uri.startswith("file://"):  # Triton reads speaker checkpoints straight from the artifact store
        env["TANGO_CHECKPOINT_ROOT"] = data_uri.removeprefix("file://") + "/checkpoint"
    for c in components:
        key = c.name.upper()
        env[f"TANGO_{key}_PORT"] = str(c.port)
        env[f"TANGO_{key}_METRICS_PORT"] = str(c.metrics_port)
    if "triton" in by_name:
        triton = by_name["triton"]
        env["TANGO_TRITON_HTTP_PORT"] = str(triton.port - 1)
        for key in ("TANGO_ORCHESTRATOR_EMBED_URL", "TANGO_ORCHESTRATOR_INTERP_URL", "TANGO_RETRIEVAL_EMBED_URL"):
            env[key] = triton.address
    for upstream in ("perception", "graph", "retrieval"):
        if upstream in by_name:
            env[f"TANGO_ORCHESTRATOR_{upstream.upper()}_ADDR"] = by_name[upstream].address
    return env
