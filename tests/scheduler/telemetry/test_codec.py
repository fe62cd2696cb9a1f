"""One codec of `tessera.io/gpus` v1: what the agent writes, both readers (the extender's node
parser and the hub's annotation source) read back the same way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.state.nodes import parse_gpus_annotation, parse_node
from scheduler.telemetry import annotation
from scheduler.telemetry.readings import DeviceSample, MigInstanceSample, NodeSample, XidEvent
from tests.builders import node_json

H100 = "NVIDIA H100 80GB HBM3"
MIB = 1 << 20

devices = st.builds(
    lambda i, mig, temp, util, mem_known: DeviceSample(
        i, f"GPU-{i}", H100,
        memory_total_bytes=81559 * MIB if mem_known else None,
        memory_used_bytes=1024 * MIB, utilization_pct=util, temperature_c=temp, power_w=100.0,
        ecc_uncorrectable_volatile=0, remap_failure=False, mig_enabled=mig,
        mig_instances=(MigInstanceSample("3g.40gb", 4, 1, True),) if mig else (),
    ),
    st.integers(0, 7), st.booleans(), st.one_of(st.none(), st.floats(0, 120)),
    st.one_of(st.none(), st.floats(0, 100)), st.booleans(),
)  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.lists(devices, min_size=1, max_size=4, unique_by=lambda d: d.index),
       st.lists(st.sampled_from([13, 48, 79]), max_size=2))  # fmt: skip
def test_agent_output_reads_the_same_through_both_readers(devs, xids) -> None:
    """Property: every GPU the agent writes comes back through the extender's parser and the
    hub's reader with the same index, uuid, health and load (to whole units); a GPU whose memory
    size NVML did not report makes the extender fall back (it cannot pack it), never crash."""
    sample = NodeSample(1_800_000_000.0, tuple(devs), tuple(XidEvent(x, 1.0) for x in xids))
    text = annotation.encode(sample)
    readings = {r.index: r for r in annotation.decode("n", text)}
    critical = sorted(x for x in xids if x not in annotation.NON_FATAL_XIDS)
    for d in devs:
        r = readings[d.index]
        assert r.uuid == d.uuid and sorted(x.xid for x in r.xid_recent) == critical
        assert r.temperature_c == (None if d.temperature_c is None else round(d.temperature_c))
    if any(d.memory_total_bytes is None for d in devs):
        with pytest.raises(ValueError, match="memory_mib"):
            parse_gpus_annotation(text)
        return
    gpus, updated = parse_gpus_annotation(text)
    assert updated == 1_800_000_000.0
    for g in gpus:
        d = next(x for x in devs if x.index == g.index)
        r = readings[g.index]
        want = (d.uuid, H100, 81559, d.mig_enabled)
        assert (g.uuid, g.model, g.memory_mib, g.mig_enabled) == want
        assert list(g.health.xid_recent) == [x.xid for x in r.xid_recent]
        assert g.health.temperature_c == r.temperature_c
        assert g.load is not None and g.load.utilization_pct == r.utilization_pct
        assert [(m.profile, m.start, m.in_use) for m in g.instances] == (
            [("3g.40gb", 4, True)] if d.mig_enabled else []
        )


@pytest.mark.parametrize(
    ("doc", "why"),
    [
        # One error names every bad field of the GPU.
        ('{"version":1,"gpus":[{"index":-1,"model":"","health":{"xid_recent":[]}}]}',
         "index must be an integer 0..2147483647, got -1; gpus[0].model must be a non-empty "
         "string"),
        ('{"version":1,"gpus":[{"index":0,"model":"H100","memory_mib":1,"mig":[]}]}',
         "gpus[0].mig must be an object"),
        ('{"version":1,"gpus":[{"index":0,"model":"H100","memory_mib":1,'
         '"load":{"power_w":"hot"}}]}', "gpus[0].load.power_w has bad value 'hot'"),
    ],
)  # fmt: skip
def test_bad_fields_are_named_and_the_node_falls_back(doc: str, why: str) -> None:
    obj = node_json("n", labels={"nvidia.com/gpu.product": "H100-80GB"},
                    allocatable={"nvidia.com/gpu": "1"}, annotate=False)  # fmt: skip
    obj["metadata"]["annotations"]["tessera.io/gpus"] = doc
    node, problem = parse_node(obj)
    assert why in problem and node.source == "gfd"


def test_the_hub_needs_a_time_and_health_the_extender_does_not() -> None:
    # No `updated`, no `health`: the extender packs the GPU (it knows model and memory); the hub
    # cannot judge the readings fresh or the GPU healthy, so it refuses the document.
    doc = '{"version":1,"gpus":[{"index":0,"model":"H100-80GB","memory_mib":81559}]}'
    gpus, updated = parse_gpus_annotation(doc)
    assert updated is None and gpus[0].memory_mib == 81559 and gpus[0].health.xid_recent == ()
    with pytest.raises(annotation.AnnotationError, match="updated"):
        annotation.decode("n", doc)
