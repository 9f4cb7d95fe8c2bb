"""`tango cluster status`: replicas and autoscaler state of the tango stages in a Kubernetes namespace."""
from __future__ import annotations

import json


def register(subparsers) -> None:
    parser = subparsers.add_parser("cluster", help="inspect a tango deployment in Kubernetes")
    actions = parser.add_subparsers(dest="cluster_command", required=True)
    status = actions.add_parser("status", help="desired/ready replicas and HPA targets per stage")
    status.add_argument("--namespace", "-n", default="tango")
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--kubeconfig", default=None, help="kubeconfig file (default: in-cluster, then ~/.kube/config)")
    status.add_argument("--context", default=None, help="kubeconfig context")
    status.set_defaults(func=run_status)


def _api_client(kubeconfig: str | None, context: str | None):
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    from tango.runtime.errors import FailedPrecondition

    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except ConfigException:
            pass
    try:
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except (ConfigException, FileNotFoundError) as error:
        raise FailedPrecondition(f"no usable Kubernetes configuration: {error}", reason="NO_KUBECONFIG") from error


def run_status(args) -> int:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    from tango.cluster.status import cluster_status, format_status
    from tango.runtime.errors import PermissionDenied, Unavailable

    api_client = _api_client(args.kubeconfig, args.context)
    try:
        status = cluster_status(api_client, args.namespace)
    except ApiException as error:
        if error.status in (401, 403):
            raise PermissionDenied(f"Kubernetes API refused: {error.reason}", reason="KUBE_FORBIDDEN") from error
        raise Unavailable(f"Kubernetes API error {error.status}: {error.reason}", reason="KUBE_API_ERROR") from error
    except HTTPError as error:
        raise Unavailable(f"Kubernetes API unreachable: {error}", reason="KUBE_UNREACHABLE") from error
    finally:
        api_client.close()
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0 if status["ready"] else 1
