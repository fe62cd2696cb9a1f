"""Render the KubeSchedulerConfiguration that registers Tessera as an extender.

One template (`kube-scheduler-config.yaml.tmpl`) serves the Helm chart (whose
`files/kube-scheduler-config.yaml.tmpl` is a link to it, filled by `templates/_helpers.tpl`) and
the local launcher; only the values differ. `IN_CLUSTER` are the chart's default values: a test
renders both and compares the text.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from importlib import resources
from string import Template

from packing.catalogue import MODELS

TEMPLATE_NAME = "kube-scheduler-config.yaml.tmpl"


@dataclass(frozen=True)
class SchedulerConfigValues:
    url_prefix: str
    kubeconfig: str
    node_cache_capable: bool = True
    ignorable: bool = False
    http_timeout: str = "5s"
    weight: int = 5
    enable_https: bool = False
    leader_elect: bool = False
    scheduler_name: str = "default-scheduler"
    lease_namespace: str = "kube-system"
    # CA that signs Tessera's serving certificate (HTTPS only); "" = the system roots.
    tls_ca_file: str = ""
    # Client certificate kube-scheduler presents to Tessera (mutual TLS); "" = none.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    client_qps: int = 50
    client_burst: int = 100

    def __post_init__(self) -> None:
        if not self.url_prefix.startswith(("http://", "https://")):
            raise ValueError(f"url_prefix: {self.url_prefix!r} must start with http:// or https://")
        if self.weight <= 0:
            raise ValueError(f"weight: {self.weight} must be > 0 (prioritizeVerb is set)")
        if not re.fullmatch(r"\d+(ms|s|m)", self.http_timeout):
            raise ValueError(f"http_timeout: {self.http_timeout!r} is not a duration like '5s'")
        if (self.tls_ca_file or self.tls_cert_file) and not self.enable_https:
            raise ValueError("tls_ca_file / tls_cert_file: only meaningful with enable_https")
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("tls_cert_file and tls_key_file go together")


# The chart's defaults (manifests/chart/tessera/values.yaml): a second scheduler calling its
# Tessera sidecar on the pod's loopback, in-cluster credentials, its Lease in the chart's namespace.
IN_CLUSTER = SchedulerConfigValues(
    url_prefix="http://127.0.0.1:8888",
    kubeconfig="",
    leader_elect=True,
    scheduler_name="tessera-scheduler",
    lease_namespace="tessera-system",
)


def managed_resources() -> list[tuple[str, bool]]:
    """(resource name, ignoredByScheduler) for every GPU resource a pod may ask Tessera for."""
    # "+" is not allowed in a resource name: media-extension profiles are spelled ".me".
    profiles = sorted({p.name.replace("+", ".") for m in MODELS.values() for p in m.profiles})
    out: list[tuple[str, bool]] = [("nvidia.com/gpu", False)]
    out += [(f"nvidia.com/mig-{p}", False) for p in profiles]  # static MIG: advertised by nodes
    out += [(f"tessera.io/mig-{p}", True) for p in profiles]  # dynamic MIG: Tessera places it
    out += [("tessera.io/gpu-milli", True), ("tessera.io/gpu-memory-mib", True)]
    return out


def _yaml_bool(v: bool) -> str:
    return "true" if v else "false"


def render(values: SchedulerConfigValues) -> str:
    """The configuration YAML for `values` (strictly decodable by kube-scheduler)."""
    text = resources.files(__package__).joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    fields = {
        k: (_yaml_bool(v) if isinstance(v, bool) else str(v)) for k, v in asdict(values).items()
    }
    fields["url_prefix"] = values.url_prefix.rstrip("/")
    # Appended to the enableHTTPS line, so an empty one leaves no blank line behind.
    tls = [("caFile", values.tls_ca_file), ("certFile", values.tls_cert_file),
           ("keyFile", values.tls_key_file)]  # fmt: skip
    for name in ("tls_ca_file", "tls_cert_file", "tls_key_file"):
        del fields[name]
    lines = "".join(f"\n    {k}: {v}" for k, v in tls if v)
    fields["tls_config"] = f"\n  tlsConfig:{lines}" if lines else ""
    fields["managed_resources"] = "\n".join(
        f"  - name: {name}\n    ignoredByScheduler: {_yaml_bool(ign)}"
        for name, ign in managed_resources()
    )
    return Template(text).substitute(fields)


def local(url_prefix: str, kubeconfig: str, **changes: object) -> SchedulerConfigValues:
    """Loopback values for the launcher: a fast client so throughput is the scheduler's."""
    base = SchedulerConfigValues(
        url_prefix=url_prefix, kubeconfig=kubeconfig, client_qps=1000, client_burst=2000
    )
    return replace(base, **changes)  # type: ignore[arg-type]
