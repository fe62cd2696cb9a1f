"""Workloads for time-based replay: cluster and job specs, the synthetic multimodal generator,
and adapters from shipped traces."""
