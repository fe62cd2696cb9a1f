"""Patches `tessera.io/gpus` only when inventory or health changed, at most once per interval.

A 5,000-node cluster must not flood the apiserver: a change waits out `min_interval_s` since the
last patch (changes in between coalesce into one patch), and an unchanged annotation is rewritten
only every `heartbeat_s` so readers can tell a live agent from a dead one.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from scheduler.policy.rules import DEFAULT_MAX_TEMPERATURE_C
from scheduler.telemetry import annotation
from scheduler.telemetry.logonce import LogOnce
from scheduler.telemetry.readings import NodeSample

log = logging.getLogger(__name__)


class PatchError(RuntimeError):
    """The annotation could not be written (apiserver refused or unreachable)."""


class NodePatcher(Protocol):
    def patch_annotation(self, node: str, key: str, value: str) -> None:
        """Merge-patch one annotation onto the node; raise `PatchError` on failure."""


class KubeNodePatcher:
    """The real patcher: a strategic-merge patch of the node's metadata through the API server."""

    def __init__(self, in_cluster: bool = True, kubeconfig: str | None = None) -> None:
        from kubernetes import client, config

        if in_cluster:
            config.load_incluster_config()
        else:
            config.load_kube_config(config_file=kubeconfig)
        self._api: Any = client.CoreV1Api()

    def patch_annotation(self, node: str, key: str, value: str) -> None:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            self._api.patch_node(node, {"metadata": {"annotations": {key: value}}})
        except (ApiException, HTTPError, OSError) as exc:
            raise PatchError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


class AnnotationPublisher:
    def __init__(
        self,
        node: str,
        patcher: NodePatcher,
        *,
        min_interval_s: float = 30.0,
        heartbeat_s: float = 300.0,
        hot_c: float = DEFAULT_MAX_TEMPERATURE_C,
    ) -> None:
        self._node, self._patcher = node, patcher
        self._min, self._beat, self._hot = min_interval_s, heartbeat_s, hot_c
        self._last_fp: str | None = None
        self._last_at: float | None = None
        self._once = LogOnce(log)
        self.patches = 0

    def offer(self, sample: NodeSample, now: float) -> bool:
        """Patch if due; return whether a patch was sent."""
        doc = annotation.to_document(sample, self._hot)
        fp = annotation.fingerprint(doc)
        since = None if self._last_at is None else now - self._last_at
        changed = fp != self._last_fp
        due = since is None or (changed and since >= self._min) or since >= self._beat
        if not due:
            return False
        try:
            self._patcher.patch_annotation(
                self._node, annotation.ANNOTATION, annotation.encode(sample, self._hot)
            )
        except PatchError as exc:
            self._once.warning(
                "patch",
                "patching %s on node %s failed (%s); will retry",
                annotation.ANNOTATION,
                self._node,
                exc,
            )
            return False
        self._once.clear("patch")
        self._last_fp, self._last_at = fp, now
        self.patches += 1
        return True
