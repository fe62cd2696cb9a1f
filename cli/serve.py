"""`tessera serve`: the kube-scheduler extender over HTTP(S).

Wiring lives here because `scheduler.api`, `scheduler.kube` and `scheduler.state` are
independent sibling layers: the store and facade (E1), the HTTP edge and the Kubernetes edge
meet only in the CLI.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import re
import ssl
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.errors import BadInput, exits_2_on_bad_input
from cli.ops import serve_ops
from scheduler.api import wire
from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import bind_socket, make_server
from scheduler.kube.compact import one_by_one
from scheduler.kube.snapshot import SnapshotError, load_snapshot
from scheduler.policy.registry import build_profile
from scheduler.settings import Settings, load_settings
from scheduler.state import placement as placement_codec
from scheduler.state.extender import BindError, Extender, Timing
from scheduler.state.store import POD_GROUP_KINDS, ClusterStore
from scheduler.telemetry.hub.service import Poller, build_hub, plugin_args, telemetry_gauges
from scheduler.telemetry.hub.settings import TelemetrySettings

if TYPE_CHECKING:  # the kubernetes client (~12 MB of RSS) loads only when serving a cluster
    from scheduler.kube.binder import KubeBinder
    from scheduler.kube.rest import KubeRest
    from scheduler.kube.watch import WatchGroup

log = logging.getLogger("tessera.serve")
EXPIRE_EVERY_S = 2.0


@dataclass
class Service:
    extender: Extender
    ready: Callable[[], bool]
    stop: threading.Event
    watches: WatchGroup | None = None

    def counters(self) -> dict[str, dict[str, float]]:
        """Counters other layers keep, for /metrics (`..._total`)."""
        out: dict[str, dict[str, float]] = {
            "tessera_rejected_annotations": {
                "placement": float(self.extender.store.rejected_annotations)
            }
        }
        if self.watches is not None:
            out["tessera_watch_errors"] = {k: float(v) for k, v in self.watches.errors().items()}
        return out

    def gauges(self) -> dict[str, Callable[[], Mapping[str, float]]]:
        """Extra /metrics gauges (FacadePort's `extra_gauges`): seconds since each watch moved."""
        watches = self.watches
        if watches is None:
            return {}
        return {"tessera_watch_age_seconds": watches.ages}


def build_extender(
    store: ClusterStore, settings: Settings, binder: KubeBinder | None = None
) -> Extender:
    tele = TelemetrySettings.from_thresholds(settings.thresholds)
    profile = build_profile(
        weights=dict(settings.weights) if settings.weights else None, args=plugin_args(tele)
    )
    timing = Timing(reservation_ttl_s=settings.reservation_ttl_s, gang_ttl_s=settings.gang_ttl_s)
    # Telemetry: thresholds configure the health/load plugins and the hub's
    # temperature flag; with a Prometheus URL a poller keeps live health/load folded into every
    # snapshot, else load scoring is allocation only.
    hub = build_hub(
        tele, prometheus_url=settings.prometheus_url or "", scrape_urls=settings.scrape_urls
    )
    if hub.sources:
        Poller(hub, tele.poll_s, warm=store.snapshot).start()
    return Extender(
        store,
        binder,
        profile,
        timing=timing,
        telemetry=hub,
        fold_request_nodes=not settings.node_cache_capable,
        choose_in_filter=settings.choose_in_filter,
    )


def check_files(settings: Settings) -> None:
    """The files the settings name exist and hold what they should, else one line naming the
    setting: set in a config file (not a flag) a missing `tls_cert` printed `serving ... on
    https://` and then `error: [Errno 2] No such file or directory`, naming no file."""
    for name in ("tls_cert", "tls_key", "tls_client_ca", "token_file"):
        path = getattr(settings, name)
        if path is not None and not Path(path).is_file():
            raise BadInput(f"{name} {path}: file not found")
    what = ""
    try:
        if settings.tls_cert is not None and settings.tls_key is not None:
            what = f"tls_cert {settings.tls_cert} / tls_key {settings.tls_key}"
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
                settings.tls_cert, settings.tls_key
            )
        if settings.tls_client_ca is not None:
            what = f"tls_client_ca {settings.tls_client_ca}"
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_verify_locations(settings.tls_client_ca)
    except (ssl.SSLError, OSError, ValueError) as exc:
        why = " ".join(str(exc).split())[:200]
        raise BadInput(f"{what}: not a usable PEM certificate and key ({why})") from None


def _check_node_names(path: Path, objects: list[dict[str, Any]]) -> None:
    """A Node (or a Pod in one namespace) named twice was kept as its last copy, and a Node
    named 'a/../../x' was scored like any other: neither is a cluster `kubectl get` prints.
    Node names as the bind path checks them."""
    seen: set[str] = set()
    pods: set[tuple[str, str]] = set()
    for obj in objects:
        if obj["kind"] == "Pod":  # likewise a Pod named twice in one namespace: its last copy
            meta = obj["metadata"]
            key = (str(meta.get("namespace") or "default"), str(meta["name"]))
            if key in pods:
                raise SnapshotError(f"{path}: Pod {'/'.join(key)[:120]!r} appears twice")
            pods.add(key)
        if obj["kind"] != "Node":
            continue
        name = obj["metadata"]["name"]  # a string (load_snapshot)
        if not re.fullmatch(wire.OBJECT_NAME, name):
            raise SnapshotError(f"{path}: Node {name[:60]!r} is not a Kubernetes object name")
        if name in seen:
            raise SnapshotError(f"{path}: Node {name!r} appears twice")
        seen.add(name)


def snapshot_store(path: Path) -> ClusterStore:
    store = ClusterStore()
    objects = load_snapshot(path).objects
    _check_node_names(path, objects)
    objects.sort(key=lambda o: o.get("kind") not in POD_GROUP_KINDS)  # stable: PodGroups first
    store.replace(one_by_one(objects), ordered=True)
    for why in store.skipped:  # left out, as the watch leaves them out: said, not fatal
        print(f"warning: {path}: skipped {why}", file=sys.stderr)
    for rec in store.pods():  # kept, charged by its requests, as the watch keeps it: said
        if rec.placement_problem:
            why = f"{rec.placement_problem}; charged by its requests"
            print(f"warning: {path}: pod {rec.request.key}: {why}", file=sys.stderr)
    return store


def _warm(ext: Extender) -> None:
    """Build the snapshot and its fleet index before the first request (about 1 s at 5,000
    nodes, which the first filter would otherwise pay); then move the long-lived cache out of
    the cyclic GC's reach: with thousands of nodes every full collection otherwise walks it all
    in some request's time."""
    try:
        ext.warm()
    except Exception:  # a cold index is slower, never wrong: serve anyway
        log.exception("warming the node index failed; the first request will build it")
    gc.freeze()
    _return_free_heap()


def _return_free_heap() -> None:
    """Hand the heap freed after loading (the snapshot's or initial list's raw JSON objects,
    several times the parsed state) back to the OS: glibc keeps it mapped otherwise, and RSS
    stays at the load's peak (about 60 MB at 5,000 nodes; benchmarks/bench_memory.py)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _warm_when_synced(group: WatchGroup, ext: Extender, warmed: threading.Event) -> None:
    if group.wait_synced(24 * 3600):
        _warm(ext)
        # Before the first verb: a gang this process's predecessor left partly bound (killed
        # between its members' binds) gets its missing members' GPUs held again.
        _recover_gangs(ext)
        warmed.set()


def _expiry_loop(ext: Extender, stop: threading.Event) -> None:
    """Drop lapsed reservations so their GPUs return (snapshots skip them meanwhile anyway),
    and hold again the GPUs of any gang left partly bound without a plan."""
    while not stop.wait(EXPIRE_EVERY_S):
        ext.expire()
        _recover_gangs(ext)


def _recover_gangs(ext: Extender) -> None:
    try:
        ext.recover_gangs()
    except Exception:  # a planning failure must not end the loop or block readiness: log it
        log.exception("re-planning partly bound gangs failed; retried in %.0f s", EXPIRE_EVERY_S)


def _elect(
    rest: KubeRest, lease: str, ready: Callable[[], bool], stop: threading.Event
) -> Callable[[], bool]:
    """Run for the replica Lease; ready only while holding it (scheduler/kube/lease.py)."""
    import os
    import socket

    from scheduler.kube.lease import LeaseElector

    namespace, name = lease.split("/")
    elector = LeaseElector(rest, namespace, name, f"{socket.gethostname()}-{os.getpid()}")
    threading.Thread(target=elector.run, args=(stop,), name="lease", daemon=True).start()
    return lambda: ready() and elector.is_leader()


def build_service(
    settings: Settings, *, snapshot: Path | None, kubeconfig: Path | None, in_cluster: bool
) -> Service:
    stop = threading.Event()
    if snapshot is not None:
        ext = build_extender(snapshot_store(snapshot), settings)
        service = Service(ext, lambda: True, stop)
    else:
        from scheduler.kube.binder import KubeBinder
        from scheduler.kube.client import api_client
        from scheduler.kube.rest import KubeRest
        from scheduler.kube.watch import NODES, PODGROUPS, PODS, ApiSource, Informer, WatchGroup

        rest = KubeRest(api_client(kubeconfig, in_cluster))
        store = ClusterStore(nodes_watched=True)
        binder = KubeBinder(rest, encode=placement_codec.encode, error=BindError)
        ext = build_extender(store, settings, binder)
        source = ApiSource(rest)
        group = WatchGroup(
            [
                Informer(
                    r,
                    source,
                    store,
                    watch_timeout_s=settings.watch_timeout_s,
                    backoff_initial_s=settings.backoff_initial_s,
                    backoff_max_s=settings.backoff_max_s,
                )
                for r in (PODGROUPS, NODES, PODS)
            ]
        )
        group.start()
        warmed = threading.Event()  # ready = synced and indexed, so no request pays the index
        ready = lambda: warmed.is_set() and group.ready()  # noqa: E731
        if settings.replica_lease:
            ready = _elect(rest, settings.replica_lease, ready, stop)
        service = Service(ext, ready, stop, group)
        threading.Thread(target=_warm_when_synced, args=(group, ext, warmed), daemon=True).start()
    threading.Thread(target=_expiry_loop, args=(ext, stop), daemon=True).start()
    if snapshot is not None:
        _warm(ext)
    return service


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @exits_2_on_bad_input
    def serve(
        kubeconfig: Annotated[
            Path | None, typer.Option(help="Kubeconfig of the cluster to watch.")
        ] = None,
        in_cluster: Annotated[
            bool, typer.Option("--in-cluster", help="Use the pod's service account.")
        ] = False,
        snapshot: Annotated[
            Path | None,
            typer.Option(help="Serve from a Kubernetes List file instead of a live cluster."),
        ] = None,
        host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
        port: Annotated[int | None, typer.Option(help="Port (0 = any free port).")] = None,
        tls_cert: Annotated[Path | None, typer.Option(help="TLS certificate (PEM).")] = None,
        tls_key: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
        token_file: Annotated[
            Path | None, typer.Option(help="File with the bearer token clients must send.")
        ] = None,
        config: Annotated[
            Path | None, typer.Option(help="Settings file (YAML or JSON); see README.")
        ] = None,
        metrics_port: Annotated[
            int | None,
            typer.Option(
                help="Also serve /metrics, /healthz and /readyz alone on this port (all "
                "interfaces), so probes and Prometheus need not reach the verbs' port."
            ),
        ] = None,
    ) -> None:
        """Run the extender: POST /filter /prioritize /bind /preempt; GET /healthz /readyz
        /metrics /explain."""
        modes = [kubeconfig is not None, in_cluster, snapshot is not None]
        if sum(modes) > 1:
            raise BadInput("give at most one of --kubeconfig, --in-cluster, --snapshot")
        for flag, path in (
            ("--tls-cert", tls_cert),
            ("--tls-key", tls_key),
            ("--token-file", token_file),
            ("--config", config),
        ):
            if path is not None and not path.is_file():
                raise BadInput(f"{flag} {path}: file not found")  # fmt: skip
        if metrics_port is not None and not 0 < metrics_port <= 65535:
            raise BadInput(f"--metrics-port {metrics_port}: must be 1..65535")
        settings = load_settings(config).with_overrides(
            host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, token_file=token_file
        )
        if settings.tls_client_ca is not None and settings.tls_cert is None:
            raise BadInput("tls_client_ca needs --tls-cert and --tls-key (HTTPS)")
        check_files(settings)
        token = settings.read_token()
        logging.basicConfig(
            level=settings.log_level.upper(),
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
        )
        service = build_service(
            settings, snapshot=snapshot, kubeconfig=kubeconfig, in_cluster=in_cluster
        )
        edge = EdgeConfig(
            body_limit=settings.body_limit_bytes,
            token=token,
            token_on_verbs=settings.token_on_verbs,
            body_timeout_s=settings.body_timeout_s,
            max_nodes=settings.max_nodes_per_request,
            max_victims=settings.max_victims_per_request,
        )
        gauges = {**telemetry_gauges(service.extender.telemetry), **service.gauges()}
        port_ = FacadePort(service.extender, gauges)
        app_ = create_app(port_, edge, ready=service.ready, counters=service.counters)
        try:
            sock = bind_socket(settings.host, settings.port)
        except OSError as exc:
            where = f"{settings.host}:{settings.port}"
            raise BadInput(f"cannot listen on {where}: {exc.strerror or exc}") from None
        except (TypeError, ValueError) as exc:  # a NUL or a 300-character label in the host
            raise BadInput(f"host {settings.host[:80]!r}: {exc}") from None
        if metrics_port is not None:
            try:
                serve_ops(app_.state.metrics.registry, service.ready, "0.0.0.0", metrics_port)
            except OSError as exc:
                where = f"0.0.0.0:{metrics_port}"
                raise BadInput(f"cannot listen on {where} for metrics: {exc.strerror}") from None
        server = make_server(
            app_,
            tls_cert=settings.tls_cert,
            tls_key=settings.tls_key,
            log_level=settings.log_level,
            tls_client_ca=settings.tls_client_ca,
            head_timeout_s=settings.body_timeout_s,  # a request's head, as its body
        )
        scheme = "https" if settings.tls_cert else "http"
        bound = sock.getsockname()[1]
        mode = f"snapshot {snapshot}" if snapshot else "live cluster"
        # One write call: print() writes the text and the newline separately, and a log line
        # from the telemetry poller's thread could land between them and garble the URL.
        sys.stderr.write(f"tessera: serving {mode} on {scheme}://{settings.host}:{bound}\n")
        sys.stderr.flush()
        try:
            server.run(sockets=[sock])
        finally:
            service.stop.set()
