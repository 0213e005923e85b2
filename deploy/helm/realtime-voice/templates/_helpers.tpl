{{/* Names ------------------------------------------------------------------------------------------- */}}

{{- define "rtv.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-chart, shortened so that the longest component name ("<fullname>-gateway-admin") still fits
  the 63-character limit on Service names. */}}
{{- define "rtv.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* (dict "ctx" $ "component" "gateway") → release-chart-gateway */}}
{{- define "rtv.componentName" -}}
{{- printf "%s-%s" (include "rtv.fullname" .ctx) .component -}}
{{- end -}}

{{- define "rtv.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "rtv.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The chart-managed Secret (provider key and Redis URL given as values). */}}
{{- define "rtv.secretName" -}}
{{- include "rtv.fullname" . -}}
{{- end -}}

{{/* Labels ------------------------------------------------------------------------------------------ */}}

{{- define "rtv.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rtv.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rtv.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rtv.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: realtime-voice
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Images ------------------------------------------------------------------------------------------ */}}

{{/* (dict "ctx" $ "image" .Values.gateway.image) → registry/repository:tag or registry/repository@digest */}}
{{- define "rtv.image" -}}
{{- $global := .ctx.Values.image -}}
{{- $repository := .image.repository -}}
{{- if $global.registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $global.registry) $repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.image.tag | default $global.tag | default .ctx.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* Redis ------------------------------------------------------------------------------------------- */}}

{{/* Exactly one source for the Redis URL; rendering stops with a clear message otherwise. */}}
{{- define "rtv.redis.validate" -}}
{{- $r := .Values.redis -}}
{{- $sources := 0 -}}
{{- if $r.bundled.enabled }}{{ $sources = add1 $sources }}{{ end -}}
{{- if $r.url }}{{ $sources = add1 $sources }}{{ end -}}
{{- if $r.existingSecret }}{{ $sources = add1 $sources }}{{ end -}}
{{- if ne (int $sources) 1 -}}
{{- fail "redis: set exactly one of redis.bundled.enabled, redis.url or redis.existingSecret" -}}
{{- end -}}
{{- end -}}

{{- define "rtv.redis.bundledUrl" -}}
{{- printf "redis://%s:6379" (include "rtv.componentName" (dict "ctx" . "component" "redis")) -}}
{{- end -}}

{{/* REDIS_URL as a container env entry: a plain value only for the bundled Redis (no password). */}}
{{- define "rtv.redis.env" -}}
{{- include "rtv.redis.validate" . -}}
- name: REDIS_URL
{{- if .Values.redis.existingSecret }}
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
{{- else if .Values.redis.url }}
  valueFrom:
    secretKeyRef:
      name: {{ include "rtv.secretName" . }}
      key: REDIS_URL
{{- else }}
  value: {{ include "rtv.redis.bundledUrl" . | quote }}
{{- end }}
{{- end -}}

{{/* Pods -------------------------------------------------------------------------------------------- */}}

{{/* Stops rendering when the kubelet could kill a drain in progress. (dict "ctx" $ "name" "gateway" "c" .Values.gateway) */}}
{{- define "rtv.validateGrace" -}}
{{- $needed := add .ctx.Values.drain.timeoutSeconds .c.preStopSleepSeconds -}}
{{- if le (int .c.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must exceed drain.timeoutSeconds + %s.preStopSleepSeconds (%v)" .name .c.terminationGracePeriodSeconds .name $needed) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the three services. (dict "ctx" $ "component" "gateway" "c" .Values.gateway) */}}
{{- define "rtv.podCommon" -}}
{{- $ctx := .ctx -}}
serviceAccountName: {{ include "rtv.serviceAccountName" $ctx }}
automountServiceAccountToken: false
terminationGracePeriodSeconds: {{ .c.terminationGracePeriodSeconds }}
securityContext:
  {{- toYaml $ctx.Values.podSecurityContext | nindent 2 }}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .c.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .c.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .c.topologySpreadConstraints }}
topologySpreadConstraints:
{{- $selector := include "rtv.selectorLabels" (dict "ctx" $ctx "component" .component) | fromYaml }}
{{- range .c.topologySpreadConstraints }}
  - {{ toYaml (merge (deepCopy .) (dict "labelSelector" (dict "matchLabels" $selector))) | nindent 4 | trim }}
{{- end }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      medium: Memory
      sizeLimit: 64Mi
{{- end -}}

{{/* Container-level settings shared by the three services. (dict "ctx" $ "c" .Values.gateway "port" "admin") */}}
{{- define "rtv.containerCommon" -}}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .ctx.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .c.resources | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .c.probes.startup | nindent 2 }}
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  {{- toYaml .c.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  {{- toYaml .c.probes.readiness | nindent 2 }}
{{- if .c.preStopSleepSeconds }}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ .c.preStopSleepSeconds }}"]
{{- end }}
{{- end -}}

{{/* Environment (ConfigMap data), one block per component; the pods' checksum/config hashes these. ------- */}}

{{- define "rtv.commonEnv" -}}
RTV_REDIS_PREFIX: {{ .Values.redis.prefix | quote }}
RTV_LOG_LEVEL: {{ .Values.logLevel | quote }}
{{- end -}}

{{- define "rtv.extraEnv" -}}
{{- range $name, $value := . }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "rtv.gateway.config" -}}
{{ include "rtv.commonEnv" . }}
RTV_GATEWAY_HOST: "0.0.0.0"
RTV_GATEWAY_PORT: {{ .Values.gateway.port | quote }}
RTV_GATEWAY_ADMIN_PORT: {{ .Values.gateway.adminPort | quote }}
RTV_STATUS_URL: {{ printf "http://%s:%v" (include "rtv.componentName" (dict "ctx" . "component" "status-api")) .Values.statusApi.port | quote }}
RTV_ALLOW_ANONYMOUS: {{ .Values.auth.allowAnonymous | toString | quote }}
{{- include "rtv.extraEnv" .Values.gateway.env }}
{{- end -}}

{{- define "rtv.worker.config" -}}
{{ include "rtv.commonEnv" . }}
RTV_WORKER_CAPACITY: {{ .Values.worker.capacity | quote }}
RTV_WORKER_ADMIN_PORT: {{ .Values.worker.adminPort | quote }}
OPENAI_REALTIME_MODEL: {{ .Values.provider.model | quote }}
OPENAI_REALTIME_URL: {{ .Values.provider.url | quote }}
RTV_PROVIDER_SHAPE: {{ .Values.provider.shape | quote }}
{{- include "rtv.extraEnv" .Values.worker.env }}
{{- end -}}

{{- define "rtv.statusApi.config" -}}
{{ include "rtv.commonEnv" . }}
RTV_STATUS_HOST: "0.0.0.0"
RTV_STATUS_PORT: {{ .Values.statusApi.port | quote }}
{{- include "rtv.extraEnv" .Values.statusApi.env }}
{{- end -}}

{{/* Data of the chart-managed Secret (base64), split by consumer so each pod hashes only what it mounts:
  a new provider key rolls the workers, not the gateways holding client sockets. */}}
{{- define "rtv.secretData.redis" -}}
{{- if and .Values.redis.url (not .Values.redis.existingSecret) }}
REDIS_URL: {{ .Values.redis.url | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "rtv.secretData.provider" -}}
{{- if and .Values.provider.apiKey (not .Values.provider.existingSecret) }}
OPENAI_API_KEY: {{ .Values.provider.apiKey | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "rtv.secretData" -}}
{{- include "rtv.secretData.redis" . }}
{{- include "rtv.secretData.provider" . }}
{{- end -}}
