"""The KubeSchedulerConfiguration template: rendered values, managed resources, bad input."""

from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from devcluster import schedconfig
from devcluster.schedconfig import SchedulerConfigValues, render
from packing.catalogue import MODELS

# Extended resource names: <domain>/<name>, name = a DNS-1123-ish qualified name part.
_RESOURCE = re.compile(r"^[a-z0-9.-]+/[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$")


def _extender(values: SchedulerConfigValues) -> dict:
    doc = yaml.safe_load(render(values))
    assert doc["apiVersion"] == "kubescheduler.config.k8s.io/v1"
    assert doc["kind"] == "KubeSchedulerConfiguration"
    (ext,) = doc["extenders"]
    return ext


@pytest.mark.parametrize(
    ("cache", "ignorable", "timeout"),
    [(True, False, "5s"), (False, True, "250ms"), (True, True, "1m")],
)
def test_rendered_flags_round_trip_through_yaml(cache, ignorable, timeout):
    values = schedconfig.local(
        "http://127.0.0.1:9/", "/k", node_cache_capable=cache, ignorable=ignorable,
        http_timeout=timeout,
    )  # fmt: skip
    ext = _extender(values)
    assert ext["nodeCacheCapable"] is cache
    assert ext["ignorable"] is ignorable
    assert ext["httpTimeout"] == timeout
    # The scheduler appends "/" + verb; a trailing slash would give "//filter".
    assert ext["urlPrefix"] == "http://127.0.0.1:9"
    assert (ext["filterVerb"], ext["prioritizeVerb"], ext["bindVerb"]) == (
        "filter", "prioritize", "bind",
    )  # fmt: skip
    assert ext["weight"] > 0


def test_managed_resources_cover_every_catalogue_profile_with_valid_unique_names():
    names = [r["name"] for r in _extender(schedconfig.IN_CLUSTER)["managedResources"]]
    assert len(names) == len(set(names)), "managedResources names must be unique"
    assert all(_RESOURCE.match(n) for n in names), [n for n in names if not _RESOURCE.match(n)]
    for model in MODELS.values():
        for p in model.profiles:
            spelled = p.name.replace("+", ".")
            assert f"nvidia.com/mig-{spelled}" in names
            assert f"tessera.io/mig-{spelled}" in names


def test_only_resources_nodes_do_not_advertise_are_ignored_by_the_in_tree_fit():
    res = _extender(schedconfig.IN_CLUSTER)["managedResources"]
    ignored = {r["name"] for r in res if r["ignoredByScheduler"]}
    kept = {r["name"] for r in res if not r["ignoredByScheduler"]}
    assert all(n.startswith("tessera.io/") for n in ignored)
    assert all(n.startswith("nvidia.com/") for n in kept)
    assert {"nvidia.com/gpu", "tessera.io/gpu-milli", "tessera.io/gpu-memory-mib"} <= (
        ignored | kept
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("url_prefix", "tessera:8888", "must start with http"),
        ("weight", 0, "weight: 0 must be > 0"),
        ("http_timeout", "5", "not a duration"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        SchedulerConfigValues(
            **{"url_prefix": "http://127.0.0.1:1", "kubeconfig": "/k", field: value}
        )


@settings(deadline=None)  # YAML parsing on a loaded 2-core box can exceed 200 ms
@given(
    port=st.integers(1, 65535),
    weight=st.integers(1, 100),
    qps=st.integers(1, 5000),
    cache=st.booleans(),
)
def test_any_valid_values_render_to_yaml_that_carries_them(port, weight, qps, cache):
    values = SchedulerConfigValues(
        url_prefix=f"http://127.0.0.1:{port}/", kubeconfig="/tmp/kc", weight=weight,
        client_qps=qps, node_cache_capable=cache,
    )  # fmt: skip
    doc = yaml.safe_load(render(values))
    assert doc["clientConnection"] == {"kubeconfig": "/tmp/kc", "qps": qps, "burst": 100}
    assert doc["extenders"][0]["weight"] == weight
    assert doc["extenders"][0]["urlPrefix"] == f"http://127.0.0.1:{port}"
    assert doc["extenders"][0]["nodeCacheCapable"] is cache
