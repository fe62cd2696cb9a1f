"""The launcher's Node objects are what Tessera's own parser reads back (no second schema)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devcluster.nodes import GpuSpec, NodeSpec, gpu_uuid, node_object, pod_object
from scheduler.state.nodes import parse_node
from scheduler.state.pods import parse_pod

gpu_specs = st.builds(
    GpuSpec,
    mig=st.booleans(),
    ecc_uncorrectable=st.integers(0, 5),
    temperature_c=st.integers(20, 95),
)


@settings(max_examples=50, deadline=None)
@given(gpus=st.lists(gpu_specs, min_size=1, max_size=8), annotate=st.booleans())
def test_parse_node_reads_back_every_gpu(gpus, annotate):
    node, problem = parse_node(node_object(NodeSpec("n-1", gpus=gpus, annotate=annotate)))
    assert problem == ""
    assert len(node.gpus) == len(gpus)
    assert node.source == ("annotation" if annotate else "gfd")
    if annotate:
        for i, (parsed, spec) in enumerate(zip(node.gpus, gpus, strict=True)):
            assert parsed.index == i and parsed.uuid == gpu_uuid("n-1", i)
            assert parsed.mig_enabled is spec.mig
            assert parsed.health.ecc_uncorrectable == spec.ecc_uncorrectable


def test_gpu_uuids_are_stable_and_distinct():
    ids = {gpu_uuid(f"node-{n}", i) for n in range(50) for i in range(8)}
    assert len(ids) == 400
    assert gpu_uuid("a", 0) == gpu_uuid("a", 0)


def test_pod_object_requests_parse_as_the_asked_gpu_kind():
    # 500 milli = half a GPU; tessera.io/mig-3g.40gb = one new (dynamic) MIG instance.
    share = parse_pod(pod_object("s", {"tessera.io/gpu-milli": "500"}) | _meta("s"))
    assert share.gpu is not None and (share.gpu.kind, share.gpu.milli) == ("milli", 500)
    mig = parse_pod(pod_object("m", {"tessera.io/mig-3g.40gb": "1"}) | _meta("m"))
    assert mig.gpu is not None and (mig.gpu.kind, mig.gpu.profile, mig.gpu.dynamic) == (
        "mig", "3g.40gb", True,
    )  # fmt: skip


def _meta(name: str) -> dict:
    return {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"}}
