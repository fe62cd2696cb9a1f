"""Start etcd -> kube-apiserver -> Tessera -> kube-scheduler on free loopback ports, and stop them.

Every process logs to `<work_dir>/logs/<name>.log`. `close(keep=...)` stops the processes in
reverse order and deletes the work directory unless asked to keep it (the tests keep it when a
test failed, so the logs survive).
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devcluster import schedconfig
from devcluster.kubeapi import KubeApi
from devcluster.procs import LaunchError, Proc, free_port

# How Tessera is started (the public CLI: `tessera serve --kubeconfig ...`).
TESSERA_SERVE = (sys.executable, "-m", "cli.main", "serve")
TESSERA_HEALTH_PATH = "/readyz"  # 200 once its watch cache has synced


@dataclass(frozen=True)
class ClusterOptions:
    bin_dir: Path
    work_dir: Path | None = None  # None: a fresh temporary directory
    extender: bool = True  # start Tessera
    use_extender: bool = True  # register it with kube-scheduler (False: plain scheduler)
    node_cache_capable: bool = True
    ignorable: bool = False
    http_timeout: str = "5s"
    tessera_argv: Sequence[str] = TESSERA_SERVE
    ready_timeout_s: float = 90.0
    # Extenders have no queueing hints (kubernetes#122019): a pod Tessera rejected is retried
    # only when kube-scheduler flushes its unschedulable pods (default 5 minutes).
    unschedulable_retry: str = "10s"
    # "RBAC" makes ServiceAccount permissions real (SubjectAccessReviews, the chart's accounts);
    # the admin token stays in system:masters either way.
    authorization_mode: str = "AlwaysAllow"
    # Environment for Tessera (e.g. PYTHONPATH of a checkout); None = inherit.
    tessera_env: dict[str, str] | None = field(default=None, compare=False)
    # Which scheduler places pods: "tessera" (kube-scheduler + the Tessera extender, as
    # `extender`/`use_extender` say), "default" (kube-scheduler alone) or "volcano"
    # (vc-scheduler + vc-controller-manager from `volcano_dir`; no kube-scheduler).
    scheduler: str = "tessera"
    volcano_dir: Path | None = None
    # KWOK binary: when set, KWOK keeps the nodes Ready and runs bound pods (kwok-stages.yaml).
    kwok_bin: Path | None = None
    # kube-scheduler's log level (--v); 3 logs every attempt and which queue a failed pod went to,
    # 5 also each cluster event that moved a pod (docs/twin.md: how the retry model was measured).
    scheduler_verbosity: int = 0

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            known = ", ".join(SCHEDULERS)
            raise ValueError(f"scheduler {self.scheduler!r}: must be one of {known}")
        if self.scheduler == "volcano" and self.volcano_dir is None:
            raise ValueError("scheduler 'volcano' needs volcano_dir (build-twin.sh output)")


SCHEDULERS = ("tessera", "default", "volcano")


class DevCluster:
    """A running local control plane; use as a context manager or call `start`/`close`."""

    def __init__(self, opts: ClusterOptions) -> None:
        self.opts = opts
        self.work = opts.work_dir or Path(tempfile.mkdtemp(prefix="tessera-cluster-"))
        self.logs = self.work / "logs"
        self.token = secrets.token_hex(16)
        self.ports = {n: free_port() for n in ("etcd", "peer", "apiserver", "tessera", "sched")}
        self.server = f"https://127.0.0.1:{self.ports['apiserver']}"
        self.kubeconfig = self.work / "kubeconfig"
        self.procs: dict[str, Proc] = {}
        self._displaced: list[Proc] = []  # launched under a name launched again later
        self._api: KubeApi | None = None

    # Lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> DevCluster:
        try:
            self.start()
        except BaseException:
            self.close(keep=True)
            raise
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(keep=exc_type is not None)

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            self._api = KubeApi(self.server, self.token, self.ca_file)
        return self._api

    @property
    def ca_file(self) -> Path:
        """The apiserver's self-signed serving certificate (written at its start): the CA
        every client here verifies the apiserver with."""
        return self.work / "pki" / "apiserver.crt"

    @property
    def tessera_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['tessera']}"

    def start(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self._write_auth()
        self._start_etcd()
        self._start_apiserver()
        kind = self.opts.scheduler
        if kind == "volcano":
            from devcluster.volcano import start_volcano

            assert self.opts.volcano_dir is not None  # checked in ClusterOptions
            start_volcano(self, self.opts.volcano_dir)
        else:
            if kind == "tessera" and self.opts.extender:
                self.start_tessera()
            self.start_scheduler()
        if self.opts.kwok_bin is not None:
            from devcluster.kwok import start_kwok

            start_kwok(self, self.opts.kwok_bin)

    @property
    def scheduler_name(self) -> str:
        """`spec.schedulerName` pods must carry to reach this cluster's scheduler."""
        return "volcano" if self.opts.scheduler == "volcano" else "default-scheduler"

    def close(self, keep: bool = False) -> None:
        order = ("kwok", "kube-scheduler", "vc-scheduler", "vc-controller-manager", "tessera",
                 "kube-apiserver", "etcd")  # fmt: skip
        # Whatever else `launch` started (sidecars, agents, extra schedulers, and processes a
        # later launch of the same name displaced) goes first, newest first, while the
        # apiserver is still up; then the core components in their order.
        extras = [p for n, p in self.procs.items() if n not in order]
        for proc in [*reversed(extras), *reversed(self._displaced)]:
            proc.stop()
        self._displaced.clear()
        for name in order:
            if name in self.procs:
                self.procs[name].stop()
        if self._api is not None:
            self._api.close()
        if keep:
            print(f"tessera dev-cluster: logs kept in {self.logs}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)

    # Components ------------------------------------------------------------------------------
    def _bin(self, name: str) -> str:
        path = self.opts.bin_dir / name
        if not path.is_file():
            raise LaunchError(f"{name} binary not found in {self.opts.bin_dir} (run build.sh)")
        return str(path)

    def _write_auth(self) -> None:
        (self.work / "pki").mkdir(exist_ok=True)
        # Static token in system:masters: full access on loopback, no client certificates needed.
        (self.work / "tokens.csv").write_text(f'{self.token},tessera-e2e,1,"system:masters"\n')
        key = self.work / "pki" / "sa.key"
        try:
            subprocess.run(
                ["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise LaunchError(f"openssl could not make the service-account key: {exc}") from None
        self.kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: local\n  cluster:\n    server: {self.server}\n"
            f"    certificate-authority: {self.ca_file}\n"
            f"users:\n- name: e2e\n  user:\n    token: {self.token}\n"
            "contexts:\n- name: local\n  context: {cluster: local, user: e2e}\n"
            "current-context: local\n"
        )

    def _start_etcd(self) -> None:
        c, p = self.ports["etcd"], self.ports["peer"]
        argv = [
            self._bin("etcd"), "--name=e2e", f"--data-dir={self.work / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{c}",
            f"--advertise-client-urls=http://127.0.0.1:{c}",
            f"--listen-peer-urls=http://127.0.0.1:{p}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{p}",
            f"--initial-cluster=e2e=http://127.0.0.1:{p}",
            "--unsafe-no-fsync",  # throwaway test data: skip fsync on a shared CI disk
            "--log-level=warn",
        ]  # fmt: skip
        proc = self.launch("etcd", argv)
        proc.wait_ready(lambda: _http_ok(f"http://127.0.0.1:{c}/health"), self.opts.ready_timeout_s)

    def _start_apiserver(self) -> None:
        key = self.work / "pki" / "sa.key"
        argv = [
            self._bin("kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{self.ports['etcd']}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports['apiserver']}",
            f"--cert-dir={self.work / 'pki'}",
            f"--token-auth-file={self.work / 'tokens.csv'}",
            f"--authorization-mode={self.opts.authorization_mode}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={key}", f"--service-account-signing-key-file={key}",
            # No controller-manager makes the default ServiceAccount, and no kubelet or node
            # lifecycle controller would ever lift the not-ready taint put on new nodes.
            "--disable-admission-plugins=ServiceAccount,TaintNodesByCondition",
            "--endpoint-reconciler-type=none",
        ]  # fmt: skip
        proc = self.launch("kube-apiserver", argv)
        # Its certificate does not exist until it starts: probe unverified, then verify always.
        url = f"{self.server}/readyz"
        auth = {"Authorization": f"Bearer {self.token}"}
        proc.wait_ready(lambda: _http_ok(url, auth), self.opts.ready_timeout_s)
        if not self.api.healthy():
            raise LaunchError(f"kube-apiserver certificate {self.ca_file} does not verify")

    def start_tessera(self) -> None:
        argv = [
            *self.opts.tessera_argv, "--kubeconfig", str(self.kubeconfig),
            "--host", "127.0.0.1", "--port", str(self.ports["tessera"]),
        ]  # fmt: skip
        proc = self.launch("tessera", argv, env=self.opts.tessera_env)
        url = self.tessera_url + TESSERA_HEALTH_PATH
        proc.wait_ready(lambda: _http_ok(url), self.opts.ready_timeout_s)

    def stop_tessera(self) -> None:
        if "tessera" in self.procs:
            self.procs.pop("tessera").stop()

    def scheduler_config(self) -> str:
        tessera = self.opts.scheduler == "tessera"
        if not (tessera and self.opts.extender and self.opts.use_extender):
            return (
                "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                f'clientConnection:\n  kubeconfig: "{self.kubeconfig}"\n  qps: 1000\n'
                "  burst: 2000\nleaderElection:\n  leaderElect: false\n"
                "percentageOfNodesToScore: 100\n"
            )
        values = schedconfig.local(
            self.tessera_url,
            str(self.kubeconfig),
            node_cache_capable=self.opts.node_cache_capable,
            ignorable=self.opts.ignorable,
            http_timeout=self.opts.http_timeout,
        )
        return schedconfig.render(values)

    def start_scheduler(self) -> None:
        cfg = self.work / "kube-scheduler-config.yaml"
        cfg.write_text(self.scheduler_config())
        argv = [
            self._bin("kube-scheduler"), f"--config={cfg}",
            "--bind-address=127.0.0.1", f"--secure-port={self.ports['sched']}",
            "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
            f"--pod-max-in-unschedulable-pods-duration={self.opts.unschedulable_retry}",
        ]  # fmt: skip
        if self.opts.scheduler_verbosity:
            argv.append(f"--v={self.opts.scheduler_verbosity}")
        proc = self.launch("kube-scheduler", argv)
        url = f"https://127.0.0.1:{self.ports['sched']}/readyz"
        proc.wait_ready(lambda: _http_ok(url), self.opts.ready_timeout_s)

    def stop_scheduler(self) -> None:
        if "kube-scheduler" in self.procs:
            self.procs.pop("kube-scheduler").stop()

    def launch(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        """Start a component logging to <work>/logs/<name>.log; `close` stops it."""
        proc = Proc(name, argv, self.logs / f"{name}.log", env=env).start()
        if name in self.procs:
            self._displaced.append(self.procs[name])
        self.procs[name] = proc
        return proc


_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE  # readiness probes only, before a certificate exists


def _http_ok(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        return httpx.get(url, verify=_INSECURE, headers=headers, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
