"""Model serving from real requests: one inference service per model, per-model request queues,
replicas added on queue depth and removed after a cool-down (the KEDA/KServe signals), each new
replica paying a model-load cold start; the replay policies decide where replicas land.
See docs/serving.md."""
