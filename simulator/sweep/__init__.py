"""Sweeps of serving runs (policies x traces x seeds x load factors) on a local process pool or
as Ray tasks (`--ray ADDRESS`, e.g. a KubeRay cluster; manifests/ray/sweep-rayjob.yaml)."""
