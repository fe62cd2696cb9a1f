"""Volcano settings: flag defaults and the Helm chart's plugin arguments (reference 2, 8)."""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.cluster.resources import CPU, MEMORY


@dataclass(frozen=True)
class VolcanoConfig:
    schedule_period_s: float = 1.0  # --schedule-period
    # A session's own run time. `wait.Until` is sliding: the next session opens one period
    # after `runOnce` *returned*, so sessions open `schedule_period_s + run` apart, and the
    # run grows with the API writes its close makes (each bind, each PodGroup status). Run =
    # `session_run_s` + `session_run_per_bind_s` x tasks sent to binding + a seeded normal
    # draw of sd `session_run_sd_s`, never below 0. All 0 (the default): sessions on the fixed
    # grid k x schedule_period_s, as before.
    session_run_s: float = 0.0
    session_run_per_bind_s: float = 0.0
    session_run_sd_s: float = 0.0
    # The run of a session that sent nothing to binding, instead of `session_run_s` (plus the
    # same noise); None: the same line at 0 binds. Idle sessions write little at their close
    # (round 9: 0.03-0.04 s against a binding session's base of 0.076 s on the 200-job slice).
    session_idle_run_s: float | None = None
    # metadata.creationTimestamp has one-second resolution: jobs created in the same second
    # are ordered by UID (`namespace/name`), not by arrival (session.go JobOrderFn fallback).
    timestamp_resolution_s: float = 1.0
    overcommit_factor: float = 1.2  # overcommit-factor (values < 1.0 reset to 1.2)
    minimum_feasible_nodes: int = 100  # --minimum-feasible-nodes
    minimum_percentage_nodes_to_find: int = 5  # --minimum-percentage-nodes-to-find
    percentage_nodes_to_find: int = 0  # --percentage-nodes-to-find (0 = adaptive)
    # binpack (Helm config: weight 1, cpu 1, memory 1, no extra resources -> GPU not scored).
    binpack_weight: int = 1
    binpack_resources: dict[str, int] = field(default_factory=lambda: {CPU: 1, MEMORY: 1})
    # nodeorder weights. TaintToleration adds weight x 100 to every node without
    # PreferNoSchedule taints (kept: it moves float sums, so it decides exact ties); the
    # affinity, spread and image terms are absent for pods and nodes without them.
    leastrequested_weight: int = 1
    mostrequested_weight: int = 0
    balancedresource_weight: int = 1
    tainttoleration_weight: int = 3
    max_pods_per_node: int = 110  # kubelet default --max-pods
    # The trace's job priority reaches Volcano as a PriorityClass on the PodGroup and its pods
    # (priority plugin: job and task order). False: no class, every job and task at priority 0,
    # as the twin creates them (`devcluster.twin.objects`).
    priority_classes: bool = True

    def session_runs(self) -> bool:
        """Does a session take time (else sessions sit on the fixed grid)?"""
        return bool(self.session_run_s or self.session_run_per_bind_s or self.session_run_sd_s
                    or self.session_idle_run_s is not None)  # fmt: skip

    def factor(self) -> float:
        return self.overcommit_factor if self.overcommit_factor >= 1.0 else 1.2
