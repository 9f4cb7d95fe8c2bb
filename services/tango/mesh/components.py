"""The components of the local mesh, in start order, with their default loopback ports."""
from __future__ import annotations

from dataclasses import dataclass, replace

from tango.runtime.errors import InvalidArgument

REPLICA_PORT_STRIDE = 200  # replica k of a component listens on its ports + k * this (clear of every base port)


@dataclass(frozen=True)
class Component:
    name: str
    port: int  # gRPC port (Triton: its gRPC port; HTTP = port - 1, metrics = port + 1)
    metrics_port: int
    is_triton: bool = False
    replica: int = 0  # 0 = the component's first process; k > 0 = its (k+1)-th, on ports + k * stride

    @property
    def member(self) -> str:
        """The process's name in the mesh: `perception`, then `perception-2`, `perception-3`, ..."""
        return self.name if self.replica == 0 else f"{self.name}-{self.replica + 1}"

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
        Component("render", base_port + 4, base_port + 104),
        Component("trainer", base_port + 5, base_port + 105),
        Component("orchestrator", base_port, base_port + 100),
    ]


def parse_replicas(text: str) -> dict[str, int]:
    """`perception=2,render=2` -> {"perception": 2, "render": 2}."""
    replicas = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if not count.isdigit() or int(count) < 1:
            raise InvalidArgument(f"replicas are NAME=COUNT (COUNT >= 1), got {item!r}", reason="BAD_REPLICAS")
        replicas[name.strip()] = int(count)
    return replicas


def with_replicas(components: list[Component], replicas: dict[str, int]) -> list[Component]:
    """Each component followed by its extra replicas (same order, ports shifted by the stride)."""
    unknown = set(replicas) - {c.name for c in components}
    if unknown or any(c.is_triton and replicas.get(c.name, 1) > 1 for c in components):
        raise InvalidArgument(f"cannot replicate {sorted(unknown) or ['triton']} in this mesh", reason="BAD_REPLICAS")
    expanded = []
    for component in components:
        for k in range(replicas.get(component.name, 1)):
            shift = k * REPLICA_PORT_STRIDE
            expanded.append(replace(component, port=component.port + shift,
                                    metrics_port=component.metrics_port + shift, replica=k))
    return expanded


def target_of(components: list[Component], name: str) -> str:
    """The gRPC target reaching every replica of a component (`ipv4:a,b` when there are several)."""
    addresses = [c.address for c in components if c.name == name]
    return addresses[0] if len(addresses) == 1 else "ipv4:" + ",".join(addresses)


def member_environment(component: Component) -> dict[str, str]:
    """What one process of the mesh sets on top of `mesh_environment`: its own ports."""
    key = component.name.upper()
    return {f"TANGO_{key}_PORT": str(component.port), f"TANGO_{key}_METRICS_PORT": str(component.metrics_port)}


def available_components(components: list[Component]) -> list[Component]:
    """The components whose server module exists in this build."""
    import importlib.util  # noqa: F401

    def present(component: Component) -> bool:
        module = "tango.triton.launcher" if component.is_triton else f"tango.{component.name}.server"
        return importlib.util.find_spec(module) is not None

    return [c for c in components if present(c)]


def mesh_environment(components: list[Component], data_uri: str, allowed_roots: str) -> dict[str, str]:
    """Environment shared by every process of the mesh: ports, upstream addresses, storage."""
    by_name = {c.name: c for c in components if c.replica == 0}
    env = {"TANGO_DATA_URI": data_uri, "TANGO_ALLOWED_ROOTS": allowed_roots}
    if data_uri.startswith("file://"):  # Triton reads speaker checkpoints straight from the artifact store
        env["TANGO_CHECKPOINT_ROOT"] = data_uri.removeprefix("file://") + "/checkpoint"
    for c in by_name.values():
        env |= member_environment(c)
    if "triton" in by_name:
        triton = by_name["triton"]
        env["TANGO_TRITON_HTTP_PORT"] = str(triton.port - 1)
        for key in ("TANGO_RENDER_INTERP_URL", "TANGO_RETRIEVAL_EMBED_URL"):
            env[key] = triton.address
    for upstream in ("perception", "graph", "retrieval", "render", "trainer"):
        if upstream in by_name:
            env[f"TANGO_ORCHESTRATOR_{upstream.upper()}_ADDR"] = target_of(components, upstream)
    return env
