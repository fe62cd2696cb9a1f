{{/* The alert rules (docs/deploy.md explains each). A template of their own so the tests can
render them as a plain Prometheus rule file (the "alertRulesFile" below) for promtool. */}}
{{- define "tessera.alertGroups" -}}
{{- $r := .Values.monitoring.prometheusRule -}}
groups:
- name: tessera
  rules:
  - alert: TesseraExtenderErrors
    # Share of extender calls (filter, prioritize, bind, preempt) answered 5xx over 5 minutes.
    expr: |-
      sum by (verb) (rate(tessera_extender_requests_total{code=~"5.."}[5m]))
        / sum by (verb) (rate(tessera_extender_requests_total[5m])) > {{ $r.errorRatio }}
    for: 5m
    labels: {severity: warning}
    annotations:
      summary: 'Tessera answers {{"{{"}} $labels.verb {{"}}"}} calls with errors'
      description: GPU pods are not being placed; read the extender container's log.
  - alert: TesseraBindErrors
    expr: sum(rate(tessera_binds_total{result="error"}[5m])) > 0
    for: 10m
    labels: {severity: warning}
    annotations:
      summary: Tessera's Binding or placement-annotation writes fail
      description: Check the extender ServiceAccount's pods/binding and pods patch permissions.
  - alert: TesseraExtenderSlow
    # p99 of one extender call; kube-scheduler gives up at httpTimeout.
    expr: |-
      histogram_quantile(0.99, sum by (le, verb) (rate(tessera_extender_request_duration_seconds_bucket[5m])))
        > {{ $r.p99LatencySeconds }}
    for: 10m
    labels: {severity: warning}
    annotations:
      summary: 'Tessera {{"{{"}} $labels.verb {{"}}"}} p99 is above {{ $r.p99LatencySeconds }}s'
      description: Scheduling slows down and may time out at the extender's httpTimeout.
  - alert: TesseraTelemetryStale
    # A node agent's last NVML sample is old, its NVML sweep failed, or the extender's telemetry
    # source stopped answering: health and load scoring run on stale data.
    expr: |-
      (time() - tessera_agent_sample_timestamp_seconds > {{ $r.staleSeconds }})
        or (tessera_agent_nvml_up == 0)
        or (tessera_telemetry_source_up == 0)
    for: 5m
    labels: {severity: warning}
    annotations:
      summary: GPU telemetry is stale
      description: Tessera keeps scheduling on the last known health; check the node agent and Prometheus.
  - alert: TesseraGPUUnhealthy
    # Uncorrectable ECC errors, a failed row remap, or recent XID errors on a GPU.
    expr: |-
      (tessera_gpu_ecc_uncorrectable_errors > 0)
        or (tessera_gpu_remap_failure == 1)
        or (tessera_gpu_xid_recent_events > 0)
    for: 1m
    labels: {severity: critical}
    annotations:
      summary: 'GPU {{"{{"}} $labels.gpu {{"}}"}} on {{"{{"}} $labels.node {{"}}"}} is unhealthy'
      description: Tessera stops placing new pods on it; drain the node and check the GPU.
{{- end -}}
