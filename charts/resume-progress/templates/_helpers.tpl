{{/* Names */}}
{{- define "rp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "rp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "rp.gateway.fullname" -}}
{{- printf "%s-gateway" (include "rp.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "rp.worker.fullname" -}}
{{- printf "%s-worker" (include "rp.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{- define "rp.redis.fullname" -}}
{{- printf "%s-redis" (include "rp.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{- define "rp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "rp.secretName" -}}
{{- include "rp.fullname" . -}}
{{- end -}}

{{/* Labels */}}
{{- define "rp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "rp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: resume-progress
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "gateway") */}}
{{- define "rp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rp.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rp.componentLabels" -}}
{{ include "rp.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image reference: (dict "image" .Values.gateway.image "root" $) */}}
{{- define "rp.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/*
Whole seconds (rounded up) of a duration in the binaries' syntax: 250ms, 5s, 2m, 1h, or a
bare number of seconds. Fails on anything else.
*/}}
{{- define "rp.seconds" -}}
{{- $text := toString . | trim -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$" $text) -}}
{{- fail (printf "%q is not a duration such as 500ms, 5s, 2m or 1h" $text) -}}
{{- end -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $text -}}
{{- $unit := trimPrefix $number $text -}}
{{- $factor := dict "ms" 0.001 "" 1.0 "s" 1.0 "m" 60.0 "h" 3600.0 -}}
{{- $seconds := mulf (float64 $number) (get $factor $unit) -}}
{{- ceil $seconds | int -}}
{{- end -}}

{{/* Env map -> EnvVar list; empty values are left out. */}}
{{- define "rp.envFromMap" -}}
{{- range $name, $value := . }}
{{- if ne (toString $value) "" }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The env entries both services get from the chart. */}}
{{- define "rp.commonEnv" -}}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "rp.secretName" . }}
      key: redis-url
      {{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .Values.tracing }}
{{- if .otlpEndpoint }}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .otlpEndpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)%s" (ternary (printf ",%s" .resourceAttributes) "" (ne .resourceAttributes "")) | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The Redis URL the chart's Secret holds (the internal Redis wins when enabled). */}}
{{- define "rp.redisUrl" -}}
{{- if .Values.redis.internal.enabled -}}
{{- printf "redis://%s:6379" (include "rp.redis.fullname" .) -}}
{{- else if .Values.redis.url -}}
{{- .Values.redis.url -}}
{{- else -}}
{{- fail "redis: set redis.url, redis.existingSecret, or enable redis.internal (development only)" -}}
{{- end -}}
{{- end -}}

{{/* Restricted security contexts (PSS "restricted"), user 65532 as in the images. */}}
{{- define "rp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "rp.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Topology spread constraints with the component's selector filled in. */}}
{{- define "rp.topologySpread" -}}
{{- $selector := fromYaml (include "rp.selectorLabels" (dict "root" .root "component" .component)) -}}
{{- range .constraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) }}
{{- end }}
- {{ toYaml $c | nindent 2 | trim }}
{{- end }}
{{- end -}}

{{/*
Gateway grace period: preStop sleep + max(SHUTDOWN_TIMEOUT, DRAIN_DELAY + DRAIN_WINDOW) +
margin. Fails when the drain settings contradict each other, or when an explicit value does
not leave at least one second after the drain.
*/}}
{{- define "rp.gateway.grace" -}}
{{- $g := .Values.gateway -}}
{{- $shutdown := include "rp.seconds" (required "gateway.env.SHUTDOWN_TIMEOUT is required" $g.env.SHUTDOWN_TIMEOUT) | int -}}
{{- $delay := include "rp.seconds" (required "gateway.env.DRAIN_DELAY is required" $g.env.DRAIN_DELAY) | int -}}
{{- $window := include "rp.seconds" (required "gateway.env.DRAIN_WINDOW is required" $g.env.DRAIN_WINDOW) | int -}}
{{- $preStop := int $g.preStopSleepSeconds -}}
{{- $margin := int $g.terminationGraceMarginSeconds -}}
{{- if le $shutdown (add $delay $window | int) -}}
{{- fail (printf "gateway.env: SHUTDOWN_TIMEOUT (%s) must be longer than DRAIN_DELAY (%s) + DRAIN_WINDOW (%s), or sse-gateway refuses to start" $g.env.SHUTDOWN_TIMEOUT $g.env.DRAIN_DELAY $g.env.DRAIN_WINDOW) -}}
{{- end -}}
{{- $drain := add $preStop (max $shutdown (add $delay $window)) | int -}}
{{- if kindIs "invalid" $g.terminationGracePeriodSeconds -}}
{{- add $drain $margin -}}
{{- else -}}
{{- $explicit := int $g.terminationGracePeriodSeconds -}}
{{- if le $explicit $drain -}}
{{- fail (printf "gateway.terminationGracePeriodSeconds (%d) is too short: the pod needs preStop sleep %ds + SHUTDOWN_TIMEOUT %ds (which covers DRAIN_DELAY %ds + DRAIN_WINDOW %ds) = %ds, plus a margin (%ds when computed). Raise it, lower the timeouts, or leave it null to compute it." $explicit $preStop $shutdown $delay $window $drain $margin) -}}
{{- end -}}
{{- $explicit -}}
{{- end -}}
{{- end -}}

{{/* Worker grace period: WORKER_SHUTDOWN_TIMEOUT + margin, or an explicit value above it. */}}
{{- define "rp.worker.grace" -}}
{{- $w := .Values.worker -}}
{{- $shutdown := include "rp.seconds" (required "worker.env.WORKER_SHUTDOWN_TIMEOUT is required" $w.env.WORKER_SHUTDOWN_TIMEOUT) | int -}}
{{- $margin := int $w.terminationGraceMarginSeconds -}}
{{- if kindIs "invalid" $w.terminationGracePeriodSeconds -}}
{{- add $shutdown $margin -}}
{{- else -}}
{{- $explicit := int $w.terminationGracePeriodSeconds -}}
{{- if le $explicit $shutdown -}}
{{- fail (printf "worker.terminationGracePeriodSeconds (%d) must be above WORKER_SHUTDOWN_TIMEOUT (%ds), or running jobs are killed before they can finish (computed: %ds + margin %ds). Raise it, lower WORKER_SHUTDOWN_TIMEOUT, or leave it null to compute it." $explicit $shutdown $shutdown $margin) -}}
{{- end -}}
{{- $explicit -}}
{{- end -}}
{{- end -}}

{{/* Checks across values that the schema cannot express. */}}
{{- define "rp.validate" -}}
{{- if and .Values.worker.autoscaling.enabled .Values.worker.keda.enabled -}}
{{- fail "worker.autoscaling.enabled and worker.keda.enabled are both true: choose one (KEDA creates its own HPA for the worker, and two HPAs on one Deployment fight each other)" -}}
{{- end -}}
{{- $a := .Values.gateway.autoscaling -}}
{{- if and $a.enabled (kindIs "invalid" $a.targetCPUUtilizationPercentage) (not $a.connections.enabled) -}}
{{- fail "gateway.autoscaling: enable at least one metric (targetCPUUtilizationPercentage or connections.enabled)" -}}
{{- end -}}
{{- if and .Values.gateway.autoscaling.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- fail "gateway.autoscaling.minReplicas is greater than maxReplicas" -}}
{{- end -}}
{{- if and .Values.worker.autoscaling.enabled (gt (int .Values.worker.autoscaling.minReplicas) (int .Values.worker.autoscaling.maxReplicas)) -}}
{{- fail "worker.autoscaling.minReplicas is greater than maxReplicas" -}}
{{- end -}}
{{- if and .Values.worker.keda.enabled (gt (int .Values.worker.keda.minReplicaCount) (int .Values.worker.keda.maxReplicaCount)) -}}
{{- fail "worker.keda.minReplicaCount is greater than maxReplicaCount" -}}
{{- end -}}
{{- range $component := list "gateway" "worker" -}}
{{- $pdb := (index $.Values $component).pdb -}}
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.minAvailable)) (not (kindIs "invalid" $pdb.maxUnavailable)) -}}
{{- fail (printf "%s.pdb: set either minAvailable or maxUnavailable, not both" $component) -}}
{{- end -}}
{{- if and $pdb.enabled (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable) -}}
{{- fail (printf "%s.pdb: set minAvailable or maxUnavailable" $component) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* PDB spec body */}}
{{- define "rp.pdbBudget" -}}
{{- if not (kindIs "invalid" .minAvailable) }}
minAvailable: {{ .minAvailable }}
{{- else }}
maxUnavailable: {{ .maxUnavailable }}
{{- end }}
{{- end -}}

{{/* Checksum of the chart's Secret, so pods roll when it changes. */}}
{{- define "rp.secretChecksum" -}}
{{- include (print .Template.BasePath "/secret.yaml") . | sha256sum -}}
{{- end -}}
