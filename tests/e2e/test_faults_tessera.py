"""Faults in Tessera's own dependencies and process, on the real control plane: Prometheus slow
or down, and `tessera serve` SIGKILLed exactly between reserve and bind, or in the middle of a
gang's binds.

One cluster (etcd, kube-apiserver, kube-scheduler, `tessera serve` with a real Prometheus as its
telemetry source) serves every scenario, each on nodes of its own that are deleted after it.
kube-scheduler calls Tessera through `FaultProxy`, so a scenario can act at an exact /bind.
After each fault: no GPU double-booked, no pod lost, no reservation or gang plan left, Tessera
ready. `test_zz_fault_table` prints scenarios x runs x failures. TESSERA_LONG=1 runs each
scenario `LONG_ROUNDS` times.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from devcluster.cluster import TESSERA_SERVE, ClusterOptions
from devcluster.kubeapi import wait_for
from devcluster.nodes import GpuSpec, NodeSpec, gpu_uuid, pod_object
from tests.builders import pod_json
from tests.e2e.conftest import tessera_env
from tests.e2e.faults import (
    ProxiedCluster,
    Tally,
    burst,
    check_invariants,
    delete_nodes,
    delete_pods,
    kill_tessera,
    metric,
)
from tests.e2e.helpers import add_nodes, node_of, stays_unbound, wait_bound
from tests.scheduler.telemetry.prometheus_server import PrometheusServer
from tests.scheduler.telemetry.servers import serve

pytestmark = [pytest.mark.e2e, pytest.mark.prometheus]
TALLY = Tally()
LONG = os.environ.get("TESSERA_LONG") == "1"
LONG_ROUNDS = 5
ROUNDS = range(LONG_ROUNDS if LONG else 1)
MAX_AGE_S = 5  # a load reading older than this is unknown (allocation only)
UP = 'tessera_telemetry_source_up{kind="prometheus"}'
RESERVED = 'tessera_reservations{kind="reserved"}'
HIGH = "fault-high"  # a PriorityClass: its pods are queued before older default-priority ones


def _exporter_text() -> str:
    """dcgm-exporter lines for every Prometheus scenario's node pair: both GPUs of `<x>-hot`
    busy (100 %), of `<x>-idle` idle. Served to Prometheus by a test exporter."""
    lines = ["# TYPE DCGM_FI_DEV_GPU_UTIL gauge"]
    for mode in ("slow", "down"):
        for r in range(LONG_ROUNDS):
            for kind, util in (("hot", 100), ("idle", 0)):
                node = f"pm-{mode}{r}-{kind}"
                for i in range(2):
                    labels = (
                        f'gpu="{i}",UUID="{gpu_uuid(node, i)}",Hostname="{node}",'
                        'modelName="NVIDIA H100 80GB HBM3"'
                    )
                    lines.append(f"DCGM_FI_DEV_GPU_UTIL{{{labels}}} {util}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def stack(
    k8s_bin_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ProxiedCluster, PrometheusServer]]:
    work = tmp_path_factory.mktemp("faults-tessera")
    with serve({"/metrics": (200, _exporter_text(), 0.0)}) as exporter:
        prom = PrometheusServer(work, {"dcgm": [exporter.removeprefix("http://")]})
        prom.start()
        config = work / "tessera.yaml"
        config.write_text(
            f"prometheus_url: {prom.url}\n"
            f"thresholds: {{max_age_s: {MAX_AGE_S}, poll_s: 1, timeout_s: 1}}\n"
            "gang_ttl_s: 12\n"  # a plan outlives its gang's last bind by this (default 120)
        )
        opts = ClusterOptions(
            bin_dir=k8s_bin_dir,
            tessera_env=tessera_env(),
            tessera_argv=(*TESSERA_SERVE, "--config", str(config)),
            http_timeout="30s",  # a bind held while Tessera restarts still reaches it
        )
        cluster = ProxiedCluster(opts)
        try:
            cluster.start()
            cluster.api.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", {
                "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": HIGH}, "value": 1000})  # fmt: skip
            yield cluster, prom
        finally:
            cluster.close(keep=bool(TALLY.failures))
            prom.stop()


def scenario(cluster: ProxiedCluster, name: str, nodes: list[str], fn: Callable[[], None]) -> None:
    def cleanup() -> None:
        cluster.proxy.hook = None
        if "tessera" not in cluster.procs:  # a failed run may leave it killed
            cluster.start_tessera()
        delete_pods(cluster.api)
        delete_nodes(cluster.api, nodes)

    TALLY.run(name, fn, cleanup)


def _scores(url: str, nodes: list[str]) -> dict[str, int]:
    pod = pod_json("load-probe", {"tessera.io/gpu-milli": "500"})
    body = json.dumps({"Pod": pod, "NodeNames": nodes})
    reply = httpx.post(f"{url}/prioritize", content=body, timeout=30).json()
    return {h["Host"]: h["Score"] for h in reply}


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=10).status_code == 200


# ---- Prometheus slow (SIGSTOP: connections accepted, never answered) or down (killed) -------
@pytest.mark.parametrize("mode", ["slow", "down"])
def test_prometheus_slow_or_down_falls_back_to_allocation_only(stack, mode: str) -> None:
    cluster, prom = stack
    for r in ROUNDS:
        hot, idle = f"pm-{mode}{r}-hot", f"pm-{mode}{r}-idle"
        run = partial(_prometheus, cluster, prom, mode, r, hot, idle)
        scenario(cluster, f"Prometheus {mode}", [hot, idle], run)


def _prometheus(
    cluster: ProxiedCluster, prom: PrometheusServer, mode: str, r: int, hot: str, idle: str
) -> None:
    api, url = cluster.api, cluster.tessera_url
    add_nodes(api, [NodeSpec(hot, gpus=[GpuSpec()] * 2), NodeSpec(idle, gpus=[GpuSpec()] * 2)])

    def live() -> bool:
        s = _scores(url, [hot, idle])
        return metric(url, UP) == 1.0 and s[hot] < s[idle]

    wait_for("live load in Tessera's scores (busy GPUs score lower)", live, timeout_s=90)
    assert prom.proc is not None
    if mode == "slow":
        os.kill(prom.proc.pid, signal.SIGSTOP)
    else:
        prom.proc.kill()
        prom.proc.wait(timeout=30)
    try:
        wait_for("the Prometheus source marked down", lambda: metric(url, UP) == 0.0, 60)
        assert _ready(url), "a slow or dead telemetry source must not make Tessera unready"

        def allocation_only() -> bool:
            s = _scores(url, [hot, idle])
            return s[hot] == s[idle]  # both empty; the stale load no longer counts

        wait_for("allocation-only scores once the readings aged out", allocation_only, 60)
        names = burst(api, f"pm-{mode}{r}", 8)  # 8 x 500 milli on 4 GPUs: all fit exactly
        check_invariants(cluster, {hot: 2, idle: 2}, names)  # scheduled while it is still out
    finally:
        if mode == "slow":
            os.kill(prom.proc.pid, signal.SIGCONT)
        else:
            prom.start()
    wait_for("the Prometheus source up again", lambda: metric(url, UP) == 1.0, 90)
    assert _ready(url)


# ---- Tessera SIGKILLed after filter reserved, before the /bind reaches it ---------------------
@pytest.mark.parametrize("variant", ["restarted before the bind", "bind refused while down"])
def test_tessera_killed_between_reserve_and_bind(stack, variant: str) -> None:
    cluster, _ = stack
    for r in ROUNDS:
        node = f"rb-{'r' if variant.startswith('restarted') else 'd'}{r}"
        run = partial(_reserve_then_kill, cluster, variant, node)
        scenario(cluster, f"Tessera killed between reserve and bind, {variant}", [node], run)


def _kill_at(cluster: ProxiedCluster, nth_bind: int, restart_first: bool,
             members: set[str] | None = None) -> dict[str, float]:  # fmt: skip
    """Arm the proxy: at the `nth_bind` /bind (of `members`, if given) SIGKILL Tessera before
    the call reaches it; then either restart it and let the bind through, or refuse the bind
    (502) and leave the restart to the test. Returns what it saw (filled in when it fires)."""
    seen: dict[str, float] = {"binds": 0}

    def hook(verb: str, body: dict) -> tuple[int, bytes] | None:
        if verb != "bind" or "killed" in seen:
            return None
        if members is not None and body.get("PodName") not in members:
            return None
        seen["binds"] += 1
        if seen["binds"] < nth_bind:
            return None
        if members is not None:  # the earlier members' binds are through: some bound, some not

            def bound() -> int:
                return sum(1 for m in members if node_of(cluster.api, m))

            wait_for("the earlier members bound", lambda: bound() >= nth_bind - 1, timeout_s=20)
            seen["bound_at_kill"] = bound()
        seen["reserved"] = metric(cluster.tessera_url, RESERVED) or 0.0
        seen["gang_plans"] = metric(cluster.tessera_url, "tessera_gang_plans") or 0.0
        kill_tessera(cluster)
        if restart_first:
            cluster.start_tessera()
            seen["killed"] = 1.0  # (only now: the test must not start a second process)
            return None  # the bind goes to the new process
        seen["killed"], seen["restart_in_test"] = 1.0, 1.0
        return 502, b'{"Error": "connection refused (Tessera killed)"}'

    cluster.proxy.hook = hook
    return seen


def _restart_when_killed(cluster: ProxiedCluster, seen: dict[str, float]) -> None:
    wait_for("the kill at /bind", lambda: "killed" in seen, timeout_s=120)
    if "restart_in_test" in seen:  # "refused while down": bring it back now
        time.sleep(1.0)  # kube-scheduler meanwhile retries against a dead extender
        cluster.start_tessera()
    cluster.proxy.hook = None


def _reserve_then_kill(cluster: ProxiedCluster, variant: str, node: str) -> None:
    api = cluster.api
    add_nodes(api, [NodeSpec(node, gpus=[GpuSpec()])])
    seen = _kill_at(cluster, 1, restart_first=variant.startswith("restarted"))
    # Two pods of 600 milli for one GPU: only one may ever hold it. The in-tree fit ignores
    # tessera.io/gpu-milli, so Tessera's accounting alone stands between them.
    pods = [f"{node}-p{i}" for i in range(2)]
    for name in pods:
        api.create_pod(pod_object(name, {"tessera.io/gpu-milli": "600"}))
    _restart_when_killed(cluster, seen)
    assert seen["reserved"] >= 1, "the kill came before filter had reserved anything"
    bound = wait_for("one pod bound", lambda: [p for p in pods if node_of(api, p)], 180)
    (winner,) = bound
    (loser,) = [p for p in pods if p != winner]
    assert stays_unbound(api, [loser], seconds=3) == [], "both 600-milli pods got the one GPU"
    check_invariants(cluster, {node: 1}, [winner])


# ---- Tessera SIGKILLed in the middle of a gang's binds (2 of 4 bound) --------------------------
@pytest.mark.parametrize("variant", ["restarted before the 3rd bind", "3rd bind refused"])
def test_tessera_killed_in_the_middle_of_a_gang(stack, variant: str) -> None:
    cluster, _ = stack
    for r in ROUNDS:
        tag = f"{'r' if variant.startswith('restarted') else 'd'}{r}"
        nodes = [f"gg-{tag}-a", f"gg-{tag}-b"]
        run = partial(_gang_then_kill, cluster, variant, tag, nodes)
        scenario(cluster, f"Tessera killed mid-gang, {variant}", nodes, run)


def _gang_then_kill(cluster: ProxiedCluster, variant: str, tag: str, nodes: list[str]) -> None:
    api = cluster.api
    add_nodes(api, [NodeSpec(n, gpus=[GpuSpec()] * 2) for n in nodes])  # 4 GPUs: one gang of 4
    members = [f"gang-{tag}-{i}" for i in range(4)]
    seen = _kill_at(cluster, 3, variant.startswith("restarted"), set(members))
    for m in members:
        api.create_pod(pod_object(
            m, {"nvidia.com/gpu": "1"},
            labels={"scheduling.x-k8s.io/pod-group": f"gang-{tag}"},
            annotations={"tessera.io/gang-min-member": "4"},
        ))  # fmt: skip
    # A plain pod competing for the same GPUs must not take the missing members' slots while
    # Tessera is down or has just restarted without its plan. With the bind refused, it
    # arrives while Tessera is down and outranks the members, so kube-scheduler tries it first
    # after the restart (before GangCoordinator.recover it took a GPU: the gang stayed 2 of 4).
    rival = pod_object(f"gang-{tag}-rival", {"tessera.io/gpu-milli": "1000"})
    if variant.startswith("restarted"):
        api.create_pod(rival)
    else:
        wait_for("the kill at /bind", lambda: "killed" in seen, timeout_s=120)
        rival["spec"]["priorityClassName"] = HIGH
        api.create_pod(rival)
    _restart_when_killed(cluster, seen)
    assert seen["gang_plans"] >= 1, "the kill came before the gang was planned"
    assert seen["bound_at_kill"] == 2, seen  # 2 of 4 bound when Tessera died
    # All or nothing: 2 members were bound before the kill, so the gang must complete.
    placed = wait_bound(api, members, timeout_s=180)
    assert sorted(placed.values()) == sorted(nodes * 2)
    assert stays_unbound(api, [f"gang-{tag}-rival"], seconds=3) == [], "rival got a gang GPU"
    check_invariants(cluster, dict.fromkeys(nodes, 2), members)
    wait_for("no gang plan left", lambda: metric(cluster.tessera_url, "tessera_gang_plans") == 0,
             timeout_s=60)  # fmt: skip


def test_zz_fault_table() -> None:
    """Scenarios x runs x failures (pytest keeps a module's order: this runs last)."""
    print("\n" + TALLY.table())
    assert TALLY.runs, "no fault scenario ran"
    assert sum(TALLY.failures.values()) == 0, dict(TALLY.failures)
