"""The real kube-scheduler calls Tessera over TLS: `enableHTTPS` with a `tlsConfig` carrying the
CA that signed Tessera's certificate, and a client certificate that Tessera checks
(`tls_client_ca`). A GPU pod is filtered, scored and bound through that channel: its
`tessera.io/placement` annotation is written by Tessera's bind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devcluster import schedconfig
from devcluster.cluster import ClusterOptions, DevCluster
from devcluster.nodes import GpuSpec, NodeSpec, pod_object
from tests.e2e.conftest import tessera_env
from tests.e2e.helpers import add_nodes, placement, wait_bound
from tests.security.pki import Pki, make_pki
from tests.security.test_mtls import _ctx

pytestmark = pytest.mark.e2e


class TlsCluster(DevCluster):
    """The launcher with Tessera on HTTPS and mutual TLS towards kube-scheduler."""

    pki: Pki

    @property
    def tessera_url(self) -> str:
        return f"https://127.0.0.1:{self.ports['tessera']}"

    def start_tessera(self) -> None:
        cfg = self.work / "tessera.yaml"
        cfg.write_text(f"tls_client_ca: {self.pki.ca}\n")
        argv = [
            *self.opts.tessera_argv, "--kubeconfig", str(self.kubeconfig),
            "--host", "127.0.0.1", "--port", str(self.ports["tessera"]),
            "--tls-cert", str(self.pki.server_cert), "--tls-key", str(self.pki.server_key),
            "--config", str(cfg),
        ]  # fmt: skip
        proc = self.launch("tessera", argv, env=self.opts.tessera_env)
        ctx = _ctx(self.pki.ca, self.pki.client_cert, self.pki.client_key)

        def ready() -> bool:
            try:
                r = httpx.get(f"{self.tessera_url}/readyz", verify=ctx, timeout=2)
                return r.status_code == 200
            except httpx.HTTPError:
                return False

        proc.wait_ready(ready, self.opts.ready_timeout_s)

    def scheduler_config(self) -> str:
        values = schedconfig.local(
            self.tessera_url, str(self.kubeconfig), enable_https=True,
            tls_ca_file=str(self.pki.ca), tls_cert_file=str(self.pki.client_cert),
            tls_key_file=str(self.pki.client_key),
        )  # fmt: skip
        return schedconfig.render(values)


def test_kube_scheduler_schedules_through_tessera_over_mutual_tls(
    k8s_bin_dir: Path, tmp_path: Path
) -> None:
    pki = make_pki(tmp_path / "pki")
    opts = ClusterOptions(bin_dir=k8s_bin_dir, tessera_env=tessera_env())
    cluster = TlsCluster(opts)
    cluster.pki = pki
    with cluster:
        api = cluster.api
        add_nodes(api, [NodeSpec("n1", gpus=[GpuSpec()] * 2)])
        api.create_pod(pod_object("tls-pod", {"nvidia.com/gpu": "1"}))
        assert wait_bound(api, ["tls-pod"]) == {"tls-pod": "n1"}
        assert placement(api, "tls-pod").node == "n1"  # written by Tessera's bind, over TLS
        # Without a client certificate Tessera refuses the connection.
        with httpx.Client(verify=_ctx(pki.ca)) as c, pytest.raises(httpx.HTTPError):
            c.get(f"{cluster.tessera_url}/readyz")
