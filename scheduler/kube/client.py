"""An `ApiClient` from a kubeconfig file or the in-cluster service account, with one-line errors."""

from __future__ import annotations

from pathlib import Path

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.config.config_exception import ConfigException


class KubeConfigError(ValueError):
    """The cluster connection could not be configured; the message says which file and why."""


def api_client(kubeconfig: Path | None = None, in_cluster: bool = False) -> ApiClient:
    """`in_cluster`: the pod's service account; else `kubeconfig` (None: the client's default,
    `$KUBECONFIG` or `~/.kube/config`)."""
    if in_cluster:
        cfg = Configuration()
        try:
            kube_config.load_incluster_config(client_configuration=cfg)
        except ConfigException as exc:
            raise KubeConfigError(f"--in-cluster: {exc}") from None
        return ApiClient(configuration=cfg)
    if kubeconfig is not None and not Path(kubeconfig).is_file():
        raise KubeConfigError(f"kubeconfig {kubeconfig} not found")
    try:
        return kube_config.new_client_from_config(
            config_file=str(kubeconfig) if kubeconfig else None
        )
    except (ConfigException, OSError, TypeError, ValueError) as exc:
        where = kubeconfig or "default kubeconfig"
        raise KubeConfigError(f"{where}: {' '.join(str(exc).split())}") from None
