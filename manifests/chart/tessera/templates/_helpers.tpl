{{/* Object names: "<release>-<component>", or "tessera-<component>" when the release is
named tessera (as the plain YAML in manifests/ is rendered). */}}
{{- define "tessera.fullname" -}}
{{- if contains "tessera" .Release.Name -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-tessera" .Release.Name | trunc 40 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "tessera.namespace" -}}{{ .Values.namespace.name }}{{- end -}}

{{/* Selector labels never change between chart versions (a Deployment's selector is
immutable, so a change would break `helm upgrade`). */}}
{{- define "tessera.selector" -}}
app.kubernetes.io/name: tessera
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "tessera.labels" -}}
{{ include "tessera.selector" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "tessera.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Every container: no privilege escalation, read-only root, no capabilities. */}}
{{- define "tessera.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities: {drop: [ALL]}
seccompProfile: {type: RuntimeDefault}
{{- end -}}

{{/* `tessera serve --config` file: log level and node-cache mode from the values, then
extender.settings (scheduler/settings.py keys). */}}
{{- define "tessera.settings" -}}
{{- $fixed := dict "log_level" .Values.extender.logLevel "node_cache_capable" .Values.scheduler.extender.nodeCacheCapable -}}
{{- toYaml (merge $fixed .Values.extender.settings) -}}
{{- end -}}

{{/* `tessera serve` arguments shared by the sidecar and the extenderOnly Deployment. */}}
{{- define "tessera.serveArgs" -}}
- serve
- --in-cluster
# The verbs: on the pod's loopback only when kube-scheduler is in the same pod.
- --host
- {{ ternary "127.0.0.1" "0.0.0.0" (eq .Values.mode "secondScheduler") }}
- --port
- {{ .Values.extender.port | quote }}
- --metrics-port
- {{ .Values.extender.metricsPort | quote }}
- --config
- /etc/tessera/settings.yaml
{{- if .Values.tls.enabled }}
- --tls-cert
- /etc/tessera/tls/tls.crt
- --tls-key
- /etc/tessera/tls/tls.key
{{- end }}
{{- end -}}

{{/* The `tessera serve` container (sidecar or Deployment). */}}
{{- define "tessera.extenderContainer" -}}
- name: extender
  image: {{ include "tessera.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    {{- include "tessera.serveArgs" . | nindent 4 }}
  ports:
  {{- if eq .Values.mode "extenderOnly" }}
  - {name: extender, containerPort: {{ .Values.extender.port }}}
  {{- end }}
  # /metrics, /healthz and /readyz only (plain HTTP, also with TLS on the verbs).
  - {name: metrics, containerPort: {{ .Values.extender.metricsPort }}}
  # /readyz turns 200 once the watch cache of nodes, pods and PodGroups has synced and been
  # indexed; the follower replica's sidecar reaches it too (it watches, it is just not called).
  readinessProbe:
    httpGet: {path: /readyz, port: metrics}
    periodSeconds: 5
  livenessProbe:
    httpGet: {path: /healthz, port: metrics}
    periodSeconds: 10
    failureThreshold: 6
  resources:
    {{- toYaml .Values.extender.resources | nindent 4 }}
  securityContext:
    {{- include "tessera.containerSecurity" . | nindent 4 }}
  volumeMounts:
  - {name: settings, mountPath: /etc/tessera/settings.yaml, subPath: settings.yaml, readOnly: true}
  {{- if .Values.tls.enabled }}
  - {name: tls, mountPath: /etc/tessera/tls, readOnly: true}
  {{- end }}
{{- end -}}

{{/* The KubeSchedulerConfiguration: the repository's one template (files/, the same file the
e2e launcher renders), with this chart's values substituted for its ${...} fields. */}}
{{- define "tessera.schedulerConfig" -}}
{{- $s := .Values.scheduler -}}
{{- $e := $s.extender -}}
{{- $text := .Files.Get "files/kube-scheduler-config.yaml.tmpl" -}}
{{- if not $text -}}{{ fail "files/kube-scheduler-config.yaml.tmpl is missing from the chart" }}{{- end -}}
{{- $scheme := ternary "https" "http" .Values.tls.enabled -}}
{{- $resources := list -}}
{{- range $e.managedResources -}}
{{- $resources = append $resources (printf "  - name: %s\n    ignoredByScheduler: %t" .name .ignoredByScheduler) -}}
{{- end -}}
{{- $tlsConfig := "" -}}
{{- if .Values.tls.enabled -}}
{{- $tlsConfig = "\n  tlsConfig:\n    caFile: /etc/tessera-scheduler/tls/ca.crt" -}}
{{- end -}}
{{- $fields := dict
  "kubeconfig" ""
  "client_qps" (toString $s.clientQPS)
  "client_burst" (toString $s.clientBurst)
  "leader_elect" "true"
  "scheduler_name" $s.name
  "lease_namespace" (include "tessera.namespace" .)
  "url_prefix" (printf "%s://127.0.0.1:%v" $scheme .Values.extender.port)
  "weight" (toString $e.weight)
  "enable_https" (toString .Values.tls.enabled)
  "tls_config" $tlsConfig
  "http_timeout" $e.httpTimeout
  "node_cache_capable" (toString $e.nodeCacheCapable)
  "ignorable" (toString $e.ignorable)
  "managed_resources" (join "\n" $resources)
-}}
{{- range $key, $value := $fields -}}
{{- $text = replace (printf "${%s}" $key) $value $text -}}
{{- end -}}
{{- if contains "${" $text -}}
{{- fail "files/kube-scheduler-config.yaml.tmpl has a ${field} this chart does not fill (templates/_helpers.tpl)" -}}
{{- end -}}
{{- $text -}}
{{- end -}}
