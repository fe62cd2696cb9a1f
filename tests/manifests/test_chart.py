"""The Helm chart with the real helm binary (v3.22, built from the Go module proxy): lint,
template, the values schema, drift of the plain YAML in manifests/, and the properties every
rendering must have (locked-down containers, probes, limits, TLS wiring, network policy)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.manifests.chart import (
    CHART,
    RENDERED,
    REPO,
    documents,
    helm,
    rendered_file,
    scheduler_config,
    template,
)

# Value sets every structural test runs against (flags for `helm template`).
RENDERINGS = {
    "default": [],
    "extender-only": [
        "--set", "mode=extenderOnly", "--set", "extender.schedulerCIDRs={10.0.0.0/24}"
    ],
    "tls-secret": ["--set", "tls.enabled=true", "--set", "tls.source=secret"],
    "tls-cert-manager": ["--set", "tls.enabled=true"],
    "monitoring": [
        "--set", "monitoring.serviceMonitor.enabled=true",
        "--set", "monitoring.podMonitor.enabled=true",
        "--set", "monitoring.prometheusRule.enabled=true",
    ],
}  # fmt: skip


def _pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d["kind"] in ("Deployment", "DaemonSet")
    ]


@pytest.mark.parametrize("flags", [[], RENDERINGS["extender-only"], RENDERINGS["tls-secret"]])
def test_helm_lint_passes(helm_bin: Path, flags: list[str]) -> None:
    run = helm(helm_bin, "lint", "--strict", str(CHART), *flags)
    assert "1 chart(s) linted, 0 chart(s) failed" in run.stdout, run.stdout


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_plain_manifests_are_the_chart_rendering(helm_bin: Path, name: str) -> None:
    committed = (REPO / "manifests" / name).read_text()
    assert committed == rendered_file(helm_bin, name), (
        f"manifests/{name} differs from the chart: run `python3 -m tests.manifests.chart --write`"
    )


def test_no_stale_hand_written_manifests() -> None:
    # Everything in manifests/ is either rendered from the chart or one of the hand-written
    # exceptions (a Prometheus scrape snippet, not Kubernetes objects; manifests/ray/ workloads).
    present = {p.name for p in (REPO / "manifests").glob("*.yaml")}
    assert present - set(RENDERED) <= {"prometheus-scrape.yaml"}, present


# (values flags, text the error must contain): each names the key and what was wrong.
BAD_VALUES = [
    (["--set", "mode=sidecar"], "/mode"),
    (["--set", "scheduler.replicas=0"], "/scheduler/replicas"),
    (["--set", "scheduler.extender.weight=0"], "/scheduler/extender/weight"),
    (["--set", "scheduler.extender.httpTimeout=5 seconds"], "/scheduler/extender/httpTimeout"),
    (["--set", "podSecurityContext.runAsNonRoot=false"], "/podSecurityContext/runAsNonRoot"),
    (["--set", "tls.source=vault"], "/tls/source"),
    (["--set", "extender.port=70000"], "/extender/port"),
    (["--set", "schedulr.replicas=2"], "schedulr"),
    (["--set", "extender.schedulerCIDRs={10.0.0.1}"], "/extender/schedulerCIDRs/0"),
    (
        ["--set", "scheduler.extender.managedResources[0].name=nvidia gpu"],
        "managedResources/0/name",
    ),
]


@pytest.mark.parametrize(("flags", "names"), BAD_VALUES, ids=[b[1] for b in BAD_VALUES])
def test_values_schema_rejects_bad_values_naming_the_key(
    helm_bin: Path, flags: list[str], names: str
) -> None:
    run = helm(helm_bin, "template", "t", str(CHART), *flags, check=False)
    assert run.returncode != 0, f"accepted {flags}"
    assert "values don't meet the specifications of the schema" in run.stderr, run.stderr
    assert names in run.stderr, run.stderr


def test_schema_accepts_the_documented_values() -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator(schema).validate(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.mark.parametrize("rendering", sorted(RENDERINGS))
def test_every_container_is_locked_down_with_limits_and_probes(
    helm_bin: Path, rendering: str
) -> None:
    docs = documents(template(helm_bin, *RENDERINGS[rendering]))
    specs = _pod_specs(docs)
    assert specs, "no workloads rendered"
    for where, spec in specs:
        pod_sc = spec["securityContext"]
        assert pod_sc["runAsNonRoot"] is True and pod_sc["runAsUser"] != 0, where
        assert pod_sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert spec["serviceAccountName"], where
        for c in spec["containers"]:
            at = f"{where} container {c['name']}"
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, at
            assert sc["allowPrivilegeEscalation"] is False, at
            assert sc["capabilities"] == {"drop": ["ALL"]}, at
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, at
            assert set(c["resources"]["requests"]) == {"cpu", "memory"}, at
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}, at
            assert c["livenessProbe"] and c["readinessProbe"], at


def test_scheduler_runs_two_replicas_beside_a_localhost_sidecar(helm_bin: Path) -> None:
    docs = documents(template(helm_bin))
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deploy["spec"]["replicas"] == 2
    spec = deploy["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["kube-scheduler", "extender"]
    config = yaml.safe_load(scheduler_config(docs))
    assert config["leaderElection"]["leaderElect"] is True
    assert config["leaderElection"]["resourceNamespace"] == "tessera-system"
    assert config["profiles"] == [{"schedulerName": "tessera-scheduler"}]
    (ext,) = config["extenders"]
    # The sidecar's verbs listen on the pod's loopback only, where kube-scheduler calls them;
    # probes and metrics use the separate operations port.
    extender = spec["containers"][1]
    args = extender["args"]
    assert args[args.index("--host") + 1] == "127.0.0.1"
    assert ext["urlPrefix"] == f"http://127.0.0.1:{args[args.index('--port') + 1]}"
    assert [p["name"] for p in extender["ports"]] == ["metrics"]
    probes = {
        (p["httpGet"]["path"], p["httpGet"]["port"])
        for p in (extender["readinessProbe"], extender["livenessProbe"])
    }
    assert probes == {("/readyz", "metrics"), ("/healthz", "metrics")}
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert pdb["spec"]["minAvailable"] == 1


def test_agent_runs_on_gpu_nodes_only_with_the_nvidia_runtime(helm_bin: Path) -> None:
    (ds,) = [d for d in documents(template(helm_bin)) if d["kind"] == "DaemonSet"]
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]
    assert spec["runtimeClassName"] == "nvidia"


def test_network_policy_opens_metrics_to_monitoring_only_and_never_the_verbs(
    helm_bin: Path,
) -> None:
    docs = documents(template(helm_bin))
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "NetworkPolicy"}
    assert set(policies) == {"tessera-scheduler", "tessera-agent"}
    for name, np in policies.items():
        assert np["spec"]["policyTypes"] == ["Ingress"]
        rules = np["spec"]["ingress"]
        assert [r["ports"] for r in rules] == [[{"port": "metrics", "protocol": "TCP"}]], name
        assert rules[0]["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
    # extenderOnly: the verbs' port opens to the configured scheduler CIDRs, nothing else.
    docs = documents(template(helm_bin, *RENDERINGS["extender-only"]))
    (np,) = [
        d for d in docs if d["kind"] == "NetworkPolicy" and "extender" in d["metadata"]["name"]
    ]
    verbs = [r for r in np["spec"]["ingress"] if r["ports"][0]["port"] == "extender"]
    assert verbs == [
        {
            "from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}],
            "ports": [{"port": "extender", "protocol": "TCP"}],
        }
    ]


@pytest.mark.parametrize("source", ["secret", "certManager"])
def test_tls_wires_one_secret_into_both_sides(helm_bin: Path, source: str) -> None:
    docs = documents(
        template(helm_bin, "--set", "tls.enabled=true", "--set", f"tls.source={source}")
    )
    config = yaml.safe_load(scheduler_config(docs))
    (ext,) = config["extenders"]
    assert ext["enableHTTPS"] is True and ext["urlPrefix"].startswith("https://127.0.0.1:")
    assert ext["tlsConfig"] == {"caFile": "/etc/tessera-scheduler/tls/ca.crt"}
    (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
    spec = deploy["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v}
    assert secrets == {"tls": "tessera-extender-tls", "tls-ca": "tessera-extender-tls"}
    sched, extender = spec["containers"]
    assert "/etc/tessera/tls/tls.crt" in extender["args"]
    assert "scheme" not in extender["readinessProbe"]["httpGet"]  # probes: plain operations port
    assert {"name": "tls-ca", "mountPath": "/etc/tessera-scheduler/tls", "readOnly": True} in sched[
        "volumeMounts"
    ]
    certs = [d for d in docs if d["kind"] == "Certificate"]
    if source == "secret":
        assert certs == []
    else:
        (cert,) = certs
        assert cert["spec"]["secretName"] == "tessera-extender-tls"
        assert "127.0.0.1" in cert["spec"]["ipAddresses"]


def test_managed_resources_are_the_catalogue() -> None:
    from devcluster.schedconfig import managed_resources

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    listed = [
        (r["name"], r["ignoredByScheduler"])
        for r in values["scheduler"]["extender"]["managedResources"]
    ]
    assert listed == managed_resources()


# -- alerts and dashboard ----------------------------------------------------------------------


def _rule_file(helm_bin: Path, tmp_path: Path) -> Path:
    docs = documents(template(helm_bin, *RENDERINGS["monitoring"]))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    path = tmp_path / "tessera-rules.yaml"
    path.write_text(yaml.safe_dump(rule["spec"]))
    return path


def test_alert_rules_pass_promtool_and_fire_on_their_signals(
    helm_bin: Path, tmp_path: Path
) -> None:
    import shutil

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (scripts/install-test-servers.sh installs prometheus)")
    rules = _rule_file(helm_bin, tmp_path)
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 5 rules found" in check.stdout, check.stdout
    tests = tmp_path / "alerts_test.yaml"
    spec = yaml.safe_load((Path(__file__).parent / "alerts_test.yaml").read_text())
    spec["rule_files"] = [str(rules)]
    tests.write_text(yaml.safe_dump(spec))
    run = subprocess.run([promtool, "test", "rules", str(tests)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout, run.stdout


def _exported_metric_names() -> set[str]:
    # Every metric name Tessera's code defines (extender and node agent): quoted tessera_* names.
    names: set[str] = set()
    for src in (REPO / "scheduler").rglob("*.py"):
        names.update(re.findall(r'"(tessera_[a-z_]+)"', src.read_text()))
    return names


def test_dashboard_and_alerts_query_only_metrics_tessera_exports(
    helm_bin: Path, tmp_path: Path
) -> None:
    dashboard = json.loads((CHART / "files" / "dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [
        r["expr"]
        for r in yaml.safe_load(_rule_file(helm_bin, tmp_path).read_text())["groups"][0]["rules"]
    ]
    used = {m for e in exprs for m in re.findall(r"\btessera_[a-z_]+", e)}
    # Counters are exposed with _total, histograms with _bucket: strip to the defined name.
    base = {re.sub(r"_(total|bucket)$", "", m) for m in used}
    assert base, "no tessera_ metrics in the dashboard"
    assert base - _exported_metric_names() == set()
    # The ConfigMap carries the same JSON, labelled for Grafana's sidecar.
    (cm,) = [
        d for d in documents(template(helm_bin)) if d["metadata"]["name"] == "tessera-dashboard"
    ]
    assert json.loads(cm["data"]["tessera.json"]) == dashboard
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_every_plain_manifest_object_is_in_tessera_system_or_cluster_scoped() -> None:
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    kinds = set()
    for name in RENDERED:
        for doc in documents((REPO / "manifests" / name).read_text()):
            kinds.add(doc["kind"])
            ns = doc["metadata"].get("namespace")
            if doc["kind"] in cluster_scoped:
                assert ns is None, f"{name}: {doc['kind']} is cluster-scoped"
            else:  # kube-system: only the binding to read the authentication ConfigMap
                assert ns == "tessera-system" or (ns, doc["kind"]) == ("kube-system", "RoleBinding")
    assert {"Deployment", "Service", "DaemonSet", "ServiceMonitor", "PrometheusRule"} <= kinds


def test_prometheus_scrape_fragment_keeps_the_chart_metrics_ports() -> None:
    jobs = {
        j["job_name"]: j
        for j in yaml.safe_load((REPO / "manifests" / "prometheus-scrape.yaml").read_text())
    }
    assert set(jobs) == {"tessera-extender", "tessera-agent"}
    services = {
        (d["metadata"]["name"], p["name"])
        for name in ("tessera.yaml", "tessera-extender-only.yaml")
        for d in documents((REPO / "manifests" / name).read_text())
        if d["kind"] == "Service"
        for p in d["spec"]["ports"]
    }
    kept = re.compile(jobs["tessera-extender"]["relabel_configs"][0]["regex"])
    assert {s for s in services if kept.fullmatch(";".join(s))} == {
        ("tessera-scheduler-metrics", "metrics"),
        ("tessera-extender", "metrics"),
    }
    agent_regex = jobs["tessera-agent"]["relabel_configs"][0]["regex"]
    (ds,) = [
        d
        for d in documents((REPO / "manifests" / "tessera.yaml").read_text())
        if d["kind"] == "DaemonSet"
    ]
    port = ds["spec"]["template"]["spec"]["containers"][0]["ports"][0]["name"]
    assert agent_regex == f"agent;{port}"


@pytest.mark.parametrize("capable", [True, False])
def test_tessera_settings_follow_the_scheduler_node_cache_mode(
    helm_bin: Path, capable: bool, tmp_path: Path
) -> None:
    flag = f"scheduler.extender.nodeCacheCapable={str(capable).lower()}"
    docs = documents(template(helm_bin, "--set", flag))
    (ext,) = yaml.safe_load(scheduler_config(docs))["extenders"]
    (cm,) = [d for d in docs if d["metadata"]["name"] == "tessera-extender-settings"]
    settings = yaml.safe_load(cm["data"]["settings.yaml"])
    assert ext["nodeCacheCapable"] is capable and settings["node_cache_capable"] is capable
    # The settings file is one tessera serve accepts.
    from scheduler.settings import load_settings

    path = tmp_path / "settings.yaml"
    path.write_text(cm["data"]["settings.yaml"])
    assert load_settings(path, env={}).node_cache_capable is capable


# (helm flags, the same values for devcluster.schedconfig): one template, two renderers.
SAME_VALUES = [
    ([], {}),
    (
        ["--set", "tls.enabled=true", "--set", "scheduler.extender.weight=7",
         "--set", "scheduler.extender.httpTimeout=250ms",
         "--set", "scheduler.extender.ignorable=true",
         "--set", "extender.port=9999", "--set", "namespace.name=gpu-sched"],
        {"enable_https": True, "tls_ca_file": "/etc/tessera-scheduler/tls/ca.crt", "weight": 7,
         "http_timeout": "250ms", "ignorable": True, "url_prefix": "https://127.0.0.1:9999",
         "lease_namespace": "gpu-sched"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("flags", "changes"), SAME_VALUES, ids=["defaults", "tls-and-tuning"])
def test_chart_and_launcher_render_the_one_template_to_the_same_text(
    helm_bin: Path, flags: list[str], changes: dict[str, Any]
) -> None:
    from dataclasses import replace

    from devcluster import schedconfig

    # The chart's file is a link to the launcher's template, not a copy.
    link = CHART / "files" / "kube-scheduler-config.yaml.tmpl"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "devcluster" / schedconfig.TEMPLATE_NAME).resolve()
    chart_text = scheduler_config(documents(template(helm_bin, *flags)))
    launcher_text = schedconfig.render(replace(schedconfig.IN_CLUSTER, **changes))
    assert chart_text == launcher_text


def test_pods_roll_when_their_configuration_changes(helm_bin: Path) -> None:
    def checksums(*flags: str) -> dict[str, str]:
        (deploy,) = [d for d in documents(template(helm_bin, *flags)) if d["kind"] == "Deployment"]
        return dict(deploy["spec"]["template"]["metadata"]["annotations"])

    base = checksums()
    assert (
        checksums("--set", "extender.logLevel=debug")["checksum/settings"]
        != base["checksum/settings"]
    )
    assert (
        checksums("--set", "scheduler.extender.weight=3")["checksum/config"]
        != base["checksum/config"]
    )
    assert checksums("--set", "agent.interval=9") == base  # the agent is not in this pod


_VALUE_SETS = st.fixed_dictionaries(
    {
        "mode": st.sampled_from(["secondScheduler", "extenderOnly"]),
        "tls.enabled": st.booleans(),
        "tls.source": st.sampled_from(["certManager", "secret"]),
        "agent.enabled": st.booleans(),
        "networkPolicy.enabled": st.booleans(),
        "podDisruptionBudget.enabled": st.booleans(),
        "gpuNamespaces.enabled": st.booleans(),
        "monitoring.serviceMonitor.enabled": st.booleans(),
        "monitoring.prometheusRule.enabled": st.booleans(),
        "scheduler.replicas": st.integers(1, 5),
        "extender.port": st.integers(1024, 65535),
    }
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=_VALUE_SETS)
def test_any_valid_values_render_locked_down_consistent_objects(
    helm_bin: Path, values: dict[str, object]
) -> None:
    # One sentence: whatever the valid values, every workload is locked down with limits and
    # probes, every namespaced object lands in the chart's namespace, and kube-scheduler's
    # extender URL uses the scheme and port Tessera serves.
    def as_flag(v: object) -> str:
        return str(v).lower() if isinstance(v, bool) else str(v)

    flags = [a for k, v in values.items() for a in ("--set", f"{k}={as_flag(v)}")]
    docs = documents(template(helm_bin, *flags))
    for where, spec in _pod_specs(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        for c in spec["containers"]:
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, where
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}, where
            assert set(c["resources"]["limits"]) == {"cpu", "memory"}, where
            assert c["readinessProbe"] and c["livenessProbe"], where
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "MutatingAdmissionPolicy",
                      "MutatingAdmissionPolicyBinding"}  # fmt: skip
    for d in docs:
        ns = d["metadata"].get("namespace")
        assert (ns is None) == (d["kind"] in cluster_scoped), d["kind"]
        assert ns in (None, "tessera-system", "kube-system"), d["kind"]
    if values["mode"] == "secondScheduler":
        (ext,) = yaml.safe_load(scheduler_config(docs))["extenders"]
        scheme = "https" if values["tls.enabled"] else "http"
        assert ext["urlPrefix"] == f"{scheme}://127.0.0.1:{values['extender.port']}"
        assert ext["enableHTTPS"] is values["tls.enabled"]
    else:
        assert not [d for d in docs if d["kind"] == "ConfigMap" and "config.yaml" in d["data"]]
