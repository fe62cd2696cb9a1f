"""choose_in_filter's filter reply over HTTP (issue 12, fourth pass): when one node passes, the
other feasible nodes (chosen away) are left out of FailedNodes; nodes that failed a filter keep
their reasons; the metrics still count every node; with no node left, the nodes chosen away
come back (kube-scheduler reads an absent node as UnschedulableAndUnresolvable)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from scheduler.api.adapter import FacadePort
from scheduler.api.app import EdgeConfig, create_app
from scheduler.api.server import serve_in_thread
from scheduler.policy.model import Placement, PodRequest
from scheduler.state.extender import Extender
from scheduler.state.store import ClusterStore
from tests.builders import gpu_json, node_json, pod_json
from tests.scheduler.state.conftest import RecordingBinder

A100 = {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


def fleet(free: int, full: int, other_model: int) -> list[dict[str, Any]]:
    """`free` nodes with 2 idle GPUs, `full` nodes whose 1 GPU a running pod holds, and
    `other_model` A100 nodes (the pods below ask for H100s: unresolvable)."""
    h100 = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    return [
        *(node_json(f"free{i}", [gpu_json(0), gpu_json(1)], labels=h100) for i in range(free)),
        *(node_json(f"full{i}", [gpu_json(0)], labels=h100) for i in range(full)),
        *(node_json(f"a100-{i}", None, annotate=False, labels=A100,
                    allocatable={"nvidia.com/gpu": "4"}) for i in range(other_model)),
    ]  # fmt: skip


def serve(ext: Extender) -> Iterator[httpx.Client]:
    app = create_app(FacadePort(ext), EdgeConfig(body_limit=1 << 22, token=None,
                                                 token_on_verbs=False))  # fmt: skip
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def setup(ext: Extender, free: int, full: int, other_model: int) -> tuple[list[str], dict]:
    nodes = fleet(free, full, other_model)
    ext.store.replace(nodes)
    for i in range(full):
        ext.store.upsert_pod(pod_json(f"busy{i}", {"nvidia.com/gpu": 1}, node=f"full{i}",
                                      phase="Running"))  # fmt: skip
    h100 = {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    pod = pod_json("p", {"nvidia.com/gpu": 1}, node_selector=h100)
    ext.store.upsert_pod(pod)
    return [n["metadata"]["name"] for n in nodes], pod


def counter(text: str, name: str, label: str) -> float:
    m = re.search(rf'^{name}_total{{[a-z]+="{label}"}} ([0-9.e+]+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


# free, full, other_model, choose -> NodeNames count, FailedNodes count, unresolvable count.
# Choose: 1 passes; FailedNodes = the `full` nodes only (before this pass: full + free - 1,
# e.g. 500 free -> 499 names sent for nothing); the A100s stay in FailedAndUnresolvable.
CASES = [
    # free full a100 choose  passed failed unresolvable
    (3, 0, 0, True, 1, 0, 0),  # 2 chosen away, none sent
    (3, 2, 1, True, 1, 2, 1),  # 2 chosen away not sent; 2 full + 1 A100 keep their reasons
    (40, 5, 5, True, 1, 5, 5),  # 39 chosen away not sent
    (1, 2, 0, True, 1, 2, 0),  # nothing to choose: as without the option
    (3, 2, 1, False, 3, 2, 1),  # option off: every feasible node passes, as before
]


@pytest.mark.parametrize(("free", "full", "a100", "choose", "n_pass", "n_fail", "n_unres"),
                         CASES)  # fmt: skip
def test_choose_reply_leaves_out_only_the_nodes_chosen_away(
    free: int, full: int, a100: int, choose: bool, n_pass: int, n_fail: int, n_unres: int
) -> None:
    ext = Extender(ClusterStore(), RecordingBinder(), choose_in_filter=choose)
    names, pod = setup(ext, free, full, a100)
    for http in serve(ext):
        raw = http.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": names}))
        body = raw.json()
        assert len(body["NodeNames"]) == n_pass and body["Error"] == ""
        assert sorted(body["FailedNodes"]) == [f"full{i}" for i in range(n_fail)]
        assert all("free whole GPU" in why for why in body["FailedNodes"].values())
        assert sorted(body["FailedAndUnresolvableNodes"]) == [f"a100-{i}" for i in range(n_unres)]
        assert not any(n.startswith("free") for n in body["FailedNodes"])
        # Nothing is lost for operators: every node is counted, the chosen-away ones under
        # their own reason label (free - 1 of them when the option chose).
        text = http.get("/metrics").text
        away = free - 1 if choose else 0
        assert counter(text, "tessera_filter_decisions", "failed") == full + away
        assert counter(text, "tessera_filter_failures", "choose_in_filter") == away
        assert counter(text, "tessera_filter_decisions", "passed") == n_pass


def test_500_node_choose_reply_is_small() -> None:
    """The benchmark's shape: 500 free nodes. Before this pass FailedNodes held 499 names with
    `choose_in_filter: tessera chose node free0 for this pod` (~100 bytes each, ~50 KB);
    now the reply is the chosen name and empty maps (< 200 bytes)."""
    ext = Extender(ClusterStore(), RecordingBinder(), choose_in_filter=True)
    names, pod = setup(ext, 500, 0, 0)
    for http in serve(ext):
        raw = http.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": names}))
        assert len(raw.content) < 200, raw.content[:300]
        assert raw.json()["FailedNodes"] == {}


class RacedExtender(Extender):
    """A real concurrent decision: just before this filter reserves its chosen node, another
    pod's filter takes that node's GPUs (the store, views and holds are all real)."""

    racing = False

    def _reserve(self, req: PodRequest, node: str, now: float, ttl: float) -> Placement | None:
        if self.racing:  # the rivals' own filters reserve as usual
            return super()._reserve(req, node, now, ttl)
        self.racing = True
        for i in range(2):
            rival = pod_json(f"rival{i}", {"nvidia.com/gpu": 1})
            self.store.upsert_pod(rival)
            assert self.filter(rival, [node]).passed == [node]
        self.racing = False
        return super()._reserve(req, node, now, ttl)


def test_no_node_left_sends_the_nodes_chosen_away_back() -> None:
    ext = RacedExtender(ClusterStore(), RecordingBinder(), choose_in_filter=True)
    names, pod = setup(ext, 3, 1, 0)
    for http in serve(ext):
        body = http.post("/filter", content=orjson.dumps({"Pod": pod, "NodeNames": names})).json()
        assert body["NodeNames"] == []
        failed = body["FailedNodes"]
        # 3 free + 1 full: the chosen node lost its GPUs to the race, the 2 chosen away come
        # back as Unschedulable (preemption may still look there), full0 keeps its reason.
        assert sorted(failed) == ["free0", "free1", "free2", "full0"]
        (chosen,) = [n for n, why in failed.items() if why == "GPUs taken by a concurrent decision"]
        others = {n for n in failed if n.startswith("free") and n != chosen}
        assert all(failed[n].startswith("choose_in_filter:") for n in others)
