"""`tango serve <component>`: run one service of the mesh in the foreground."""
from __future__ import annotations

import importlib

SERVICES = ("perception", "graph", "retrieval", "render", "trainer", "orchestrator")


def register(subparsers) -> None:
    parser = subparsers.add_parser("serve", help="run one service in the foreground")
    parser.add_argument("component", choices=SERVICES + ("triton",))
    parser.add_argument("--models", default="", help="triton only: comma-separated models to load (default: all)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tango.runtime.logs import configure_logging

    if args.component == "triton":
        from tango.triton.launcher import config_from_env, run_forever

        configure_logging("triton")
        models = tuple(m for m in args.models.split(",") if m)
        return run_forever(config_from_env(**({"models": models} if models else {})))
    from tango.runtime.server import run_until_signalled

    module = importlib.import_module(f"tango.{args.component}.server")
    config = module.load_config()
    configure_logging(args.component, config.log_level)
    if config.blas_threads > 0:  # the whole process's (a service owns its process)
        from threadpoolctl import threadpool_limits

        threadpool_limits(config.blas_threads, user_api="blas")
    service = module.build(config)
    run_until_signalled(service)
    return 0
