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

{{/* The chart-managed Secret (provider keys given as values). */}}
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

{{/* Where the external Redis's endpoints are listed, by mode: the value named in messages. */}}
{{- define "rtv.redis.endpointsValue" -}}
{{- $mode := .Values.redis.external.mode -}}
{{- if eq $mode "cluster" -}}redis.external.cluster.nodes
{{- else if eq $mode "sentinel" -}}redis.external.sentinel.sentinels
{{- else -}}redis.external.url
{{- end -}}
{{- end -}}

{{/* The external Redis's endpoints as URLs, a JSON list: the single URL, the cluster's seed nodes or the
  sentinels, each host:port given its scheme (rediss:// with redis.external.tls). Empty with the bundled Redis. */}}
{{- define "rtv.redis.externalUrls" -}}
{{- $e := .Values.redis.external -}}
{{- $entries := list -}}
{{- if .Values.redis.bundled.enabled -}}
{{- else if eq $e.mode "cluster" -}}{{ $entries = $e.cluster.nodes }}
{{- else if eq $e.mode "sentinel" -}}{{ $entries = $e.sentinel.sentinels }}
{{- else if $e.url -}}{{ $entries = list $e.url }}
{{- end -}}
{{- $urls := list -}}
{{- range $entries -}}
{{- if regexMatch "^rediss?://" . -}}
{{- $urls = append $urls . -}}
{{- else -}}
{{- $urls = append $urls (printf "%s://%s" (ternary "rediss" "redis" $e.tls) .) -}}
{{- end -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/* RTV_REDIS_MODE: the bundled Redis is a single instance. */}}
{{- define "rtv.redis.mode" -}}
{{- ternary "single" .Values.redis.external.mode .Values.redis.bundled.enabled -}}
{{- end -}}

{{/* Exactly one Redis, and settings that fit it; rendering stops with a message naming the values otherwise.
  The schema checks each value's shape (modes, host:port, no password in a URL); this checks how they combine. */}}
{{- define "rtv.redis.validate" -}}
{{- $r := .Values.redis -}}
{{- $e := $r.external -}}
{{- if regexMatch "[{}]" $r.prefix -}}
{{- fail (printf "redis.prefix=%q: no braces; the services put hash tags in the keys themselves, a tag in the prefix would put every key in one Redis Cluster slot" $r.prefix) -}}
{{- end -}}
{{- if ne $e.mode "single" -}}
  {{- if $r.bundled.enabled -}}
  {{- fail (printf "redis.external.mode=%s needs redis.bundled.enabled=false: the bundled Redis is one instance, not a %s" $e.mode $e.mode) -}}
  {{- end -}}
  {{- if $e.url -}}
  {{- fail (printf "redis.external.url is the endpoint of mode single; with redis.external.mode=%s list them in %s" $e.mode (include "rtv.redis.endpointsValue" .)) -}}
  {{- end -}}
{{- else if eq (ternary 1 0 $r.bundled.enabled) (ternary 1 0 (ne $e.url "")) -}}
{{- fail "redis: set exactly one of redis.bundled.enabled or redis.external.url (or redis.external.mode=cluster or sentinel with redis.bundled.enabled=false)" -}}
{{- end -}}
{{- if and $e.cluster.nodes (ne $e.mode "cluster") -}}
{{- fail (printf "redis.external.cluster.nodes set but redis.external.mode is %s: set redis.external.mode=cluster, or unset them" $e.mode) -}}
{{- end -}}
{{- $stray := list -}}
{{- range $name := list "sentinels" "masterName" "existingSecret" -}}
{{- if index $e.sentinel $name }}{{ $stray = append $stray (printf "redis.external.sentinel.%s" $name) }}{{ end -}}
{{- end -}}
{{- if and $stray (ne $e.mode "sentinel") -}}
{{- fail (printf "%s set but redis.external.mode is %s: set redis.external.mode=sentinel, or unset them" (join ", " $stray) $e.mode) -}}
{{- end -}}
{{- if and (eq $e.mode "cluster") (not $e.cluster.nodes) -}}
{{- fail "redis.external.mode=cluster needs redis.external.cluster.nodes: at least one seed node (host:port)" -}}
{{- end -}}
{{- if and (eq $e.mode "sentinel") (not $e.sentinel.sentinels) -}}
{{- fail "redis.external.mode=sentinel needs redis.external.sentinel.sentinels: at least one sentinel (host:port)" -}}
{{- end -}}
{{- if and (eq $e.mode "sentinel") (not $e.sentinel.masterName) -}}
{{- fail "redis.external.mode=sentinel needs redis.external.sentinel.masterName: the name the sentinels monitor the master under" -}}
{{- end -}}
{{- if and $r.bundled.enabled (or $e.existingSecret $e.tlsCaSecret $e.tls) -}}
{{- fail "redis.external.existingSecret, redis.external.tlsCaSecret and redis.external.tls belong to the external Redis (redis.external.url or another redis.external.mode); the bundled Redis takes its password from redis.auth" -}}
{{- end -}}
{{- if and (not $r.bundled.enabled) $r.auth.existingSecret -}}
{{- fail "redis.auth.existingSecret is the bundled Redis's password; for an external Redis use redis.external.existingSecret" -}}
{{- end -}}
{{- include "rtv.redis.validateEndpoints" . -}}
{{- end -}}

{{/* The external endpoints agree with each other and with the TLS settings: one scheme for the whole list (the
  services connect to every node as to the first), rediss:// wherever TLS is asked for, and one ACL user for
  every cluster node (the services log in to all of them as the first one's). */}}
{{- define "rtv.redis.validateEndpoints" -}}
{{- $e := .Values.redis.external -}}
{{- $where := include "rtv.redis.endpointsValue" . -}}
{{- $schemes := list -}}
{{- $users := list -}}
{{- range $url := include "rtv.redis.externalUrls" . | fromJsonArray -}}
{{- $schemes = append $schemes (regexFind "^rediss?://" $url) -}}
{{- $users = append $users (regexFind "^rediss?://[^@/]*@" $url | regexFind "//.*@") -}}
{{- end -}}
{{- $schemes = uniq $schemes -}}
{{- if gt (len $schemes) 1 -}}
{{- fail (printf "%s mixes redis:// and rediss://: the services connect to every endpoint alike, so give one scheme (or host:port with redis.external.tls)" $where) -}}
{{- end -}}
{{- if and $e.tls (has "redis://" $schemes) -}}
{{- fail (printf "redis.external.tls=true but %s is redis://: use rediss://" $where) -}}
{{- end -}}
{{- if and $e.tlsCaSecret (not (has "rediss://" $schemes)) -}}
{{- fail (printf "redis.external.tlsCaSecret needs a rediss:// URL (%s is redis://): the CA is for TLS; rediss:// URLs, or host:port with redis.external.tls=true" $where) -}}
{{- end -}}
{{- if gt (len (uniq $users)) 1 -}}
{{- fail "redis.external.cluster.nodes name different ACL users: the services log in to every node as the first node's user, so name the same user in each URL (or none)" -}}
{{- end -}}
{{- end -}}

{{/* The ACL user the services log in as on the bundled Redis (its default user is off). */}}
{{- define "rtv.redis.bundledUser" -}}rtv{{- end -}}

{{/* The bundled Redis's ACL rule for that user, as redis-server arguments (one per line, YAML list items):
  on, the password from the environment, the release's keys only (`<prefix>:*`, and BullMQ's, which share the
  hash tag `{<prefix>:bull}` and so start with a brace), every command but @admin and @dangerous, plus INFO and
  naming connections (ioredis and BullMQ use them). */}}
{{- define "rtv.redis.aclRule" -}}
- {{ include "rtv.redis.bundledUser" . }}
- "on"
- ">$(REDIS_PASSWORD)"
- {{ printf "~%s:*" .Values.redis.prefix | quote }}
- {{ printf "~{%s:bull}:*" .Values.redis.prefix | quote }}
- "+@all"
- "-@admin"
- "-@dangerous"
- "+info"
- "+client|setname"
- "+client|getname"
- "+client|id"
- "+client|info"
{{- end -}}

{{/* Redis exporter ------------------------------------------------------------------------------------ */}}

{{/* "true" when the exporter is rendered: redis.exporter.enabled, or when it is null (the default) with the
  bundled Redis and ServiceMonitors both on. Refused with Sentinel: the master moves, so the exporter would
  need to follow it; scrape those nodes with an exporter of their own. */}}
{{- define "rtv.redisExporter.enabled" -}}
{{- $on := .Values.redis.exporter.enabled -}}
{{- if kindIs "invalid" $on -}}
{{- $on = and .Values.redis.bundled.enabled .Values.metrics.serviceMonitor.enabled -}}
{{- end -}}
{{- if $on -}}
{{- if eq (include "rtv.redis.mode" .) "sentinel" -}}
{{- fail "redis.exporter.enabled with redis.external.mode=sentinel: the exporter scrapes fixed addresses and the master moves; run an exporter next to each Redis node instead, or set redis.exporter.enabled=false" -}}
{{- end -}}
true
{{- end -}}
{{- end -}}

{{/* The ACL user the exporter logs in as on the bundled Redis: read-only server statistics, no key. */}}
{{- define "rtv.redis.exporterUser" -}}rtv-exporter{{- end -}}

{{/* Its ACL rule, as redis-server arguments: what redis_exporter runs by default (INFO, CONFIG GET for the
  config gauges, LATENCY and SLOWLOG reads, CLUSTER INFO, naming its connection) and nothing else: no key
  pattern, so it can read no session; CONFIG SET, CLIENT LIST/KILL and every write stay refused. Same password
  as the services' user (one Secret), so the exporter needs no credential of its own. */}}
{{- define "rtv.redis.exporterAclRule" -}}
- {{ include "rtv.redis.exporterUser" . }}
- "on"
- ">$(REDIS_PASSWORD)"
- "-@all"
- "+ping"
- "+info"
- "+config|get"
- "+client|setname"
- "+latency|latest"
- "+latency|histogram"
- "+slowlog|get"
- "+slowlog|len"
- "+cluster|info"
{{- end -}}

{{/* The Redis endpoints the exporter scrapes, as a JSON list of URLs without user: the bundled Redis, or the
  external URL or cluster seed nodes. */}}
{{- define "rtv.redisExporter.targets" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- list (printf "redis://%s:6379" (include "rtv.componentName" (dict "ctx" . "component" "redis"))) | toJson -}}
{{- else -}}
{{- $targets := list -}}
{{- range include "rtv.redis.externalUrls" . | fromJsonArray -}}
{{- $targets = append $targets (regexReplaceAll "^(rediss?://)[^@/]*@" . "${1}") -}}
{{- end -}}
{{- toJson $targets -}}
{{- end -}}
{{- end -}}

{{/* REDIS_USER of the exporter: its own user on the bundled Redis; on an external one the user the endpoints
  name (the services' user), or none. */}}
{{- define "rtv.redisExporter.user" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- include "rtv.redis.exporterUser" . -}}
{{- else -}}
{{- $first := include "rtv.redis.externalUrls" . | fromJsonArray | first | default "" -}}
{{- regexFind "^rediss?://[^@/]*@" $first | regexFind "//.*@" | trimPrefix "//" | trimSuffix "@" -}}
{{- end -}}
{{- end -}}

{{/* The components allowed to connect to the bundled Redis (its NetworkPolicy), as a JSON list. */}}
{{- define "rtv.redis.clients" -}}
{{- $clients := list "gateway" "worker" "status-api" -}}
{{- if include "rtv.redisExporter.enabled" . }}{{ $clients = append $clients "redis-exporter" }}{{ end -}}
{{- toJson $clients -}}
{{- end -}}

{{/* REDIS_URL: the bundled Redis, the external URL, or the external list joined with commas. */}}
{{- define "rtv.redis.url" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s@%s:6379" (include "rtv.redis.bundledUser" .) (include "rtv.componentName" (dict "ctx" . "component" "redis")) -}}
{{- else -}}
{{- include "rtv.redis.externalUrls" . | fromJsonArray | join "," -}}
{{- end -}}
{{- end -}}

{{/* The Secret generated for the bundled Redis's password when redis.auth.existingSecret is empty. */}}
{{- define "rtv.redis.authSecretName" -}}
{{- include "rtv.componentName" (dict "ctx" . "component" "redis-auth") -}}
{{- end -}}

{{/* The Secret and key holding the Redis password, as JSON ({} for an external Redis without one). */}}
{{- define "rtv.redis.passwordRef" -}}
{{- $r := .Values.redis -}}
{{- if and $r.bundled.enabled $r.auth.existingSecret -}}
{{- dict "name" $r.auth.existingSecret "key" $r.auth.existingSecretKey | toJson -}}
{{- else if $r.bundled.enabled -}}
{{- dict "name" (include "rtv.redis.authSecretName" .) "key" "redis-password" | toJson -}}
{{- else if $r.external.existingSecret -}}
{{- dict "name" $r.external.existingSecret "key" $r.external.existingSecretKey | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/* REDIS_PASSWORD (and anything else named `var`) from the password's Secret, as a container env entry. */}}
{{- define "rtv.redis.passwordEnv" -}}
{{- $ref := include "rtv.redis.passwordRef" .ctx | fromJson -}}
{{- if $ref -}}
- name: {{ .var }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end -}}
{{- end -}}

{{/* The Secret and key holding the sentinels' own password, as JSON ({} unless mode sentinel names one). */}}
{{- define "rtv.redis.sentinelPasswordRef" -}}
{{- $s := .Values.redis.external.sentinel -}}
{{- if and (eq (include "rtv.redis.mode" .) "sentinel") $s.existingSecret -}}
{{- dict "name" $s.existingSecret "key" $s.existingSecretKey | toJson -}}
{{- else -}}
{}
{{- end -}}
{{- end -}}

{{/* The services' Redis secrets as container env entries, only ever through secretKeyRef: the data nodes'
  password, and with Sentinel the sentinels' own. */}}
{{- define "rtv.redis.env" -}}
{{- include "rtv.redis.validate" . -}}
{{- include "rtv.redis.passwordEnv" (dict "ctx" . "var" "REDIS_PASSWORD") -}}
{{- with include "rtv.redis.sentinelPasswordRef" . | fromJson }}
- name: RTV_REDIS_SENTINEL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end -}}
{{- end -}}

{{/* Where the services find the CA of a private-CA rediss:// server (redis.external.tlsCaSecret). */}}
{{- define "rtv.redis.tlsCaDir" -}}/etc/rtv/redis-tls{{- end -}}

{{- define "rtv.redis.volumes" -}}
{{- with .Values.redis.external.tlsCaSecret -}}
- name: redis-tls-ca
  secret:
    secretName: {{ . }}
    items:
      - key: {{ $.Values.redis.external.tlsCaSecretKey }}
        path: ca.crt
{{- end -}}
{{- end -}}

{{- define "rtv.redis.volumeMounts" -}}
{{- if .Values.redis.external.tlsCaSecret -}}
- name: redis-tls-ca
  mountPath: {{ include "rtv.redis.tlsCaDir" . }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* What the pods read from Secrets, by reference, for checksum/secret: generated values are unknown at render
  time (helm lookup), so switching where the password comes from is what rolls the pods. */}}
{{- define "rtv.redis.secretRefs" -}}
redis-password: {{ include "rtv.redis.passwordRef" . }}
sentinel-password: {{ include "rtv.redis.sentinelPasswordRef" . }}
redis-tls-ca: {{ .Values.redis.external.tlsCaSecret | quote }}
{{- end -}}

{{/* The resume-token secret: generated into this Secret unless auth.existingSecret brings RTV_RESUME_SECRET. */}}
{{- define "rtv.resumeSecretName" -}}
{{- include "rtv.componentName" (dict "ctx" . "component" "resume-secret") -}}
{{- end -}}

{{/* A Secret holding one random value, generated on the first install and kept on upgrades (helm lookup).
  (dict "ctx" $ "name" "…" "key" "…" "length" 32 "component" "redis") */}}
{{- define "rtv.generatedSecret" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- $value := "" -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- $value = index $existing.data .key -}}
{{- else -}}
{{- $value = randAlphaNum (int .length) | b64enc -}}
{{- end -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .name }}
  labels:
    {{- include "rtv.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
  annotations:
    # Generated once by the chart; kept on upgrades. Delete it and upgrade to rotate.
    realtime-voice/generated: "true"
type: Opaque
data:
  {{ .key }}: {{ $value | quote }}
{{- end -}}

{{/* Provider ---------------------------------------------------------------------------------------- */}}

{{/* Variables that only provider.* sets: in worker.env they would sit in a ConfigMap (a key in plain text) or
  contradict provider.kind, in worker.extraEnv they would override what the chart validated. */}}
{{- define "rtv.provider.vars" -}}
RTV_PROVIDER RTV_PROVIDER_SHAPE OPENAI_API_KEY OPENAI_REALTIME_MODEL OPENAI_REALTIME_URL AZURE_OPENAI_ENDPOINT AZURE_OPENAI_DEPLOYMENT AZURE_OPENAI_API_KEY AZURE_OPENAI_AD_TOKEN_FILE
{{- if eq .Values.provider.kind "azure" }} RTV_PROVIDER_RENEW_MS{{ end -}}
{{- end -}}

{{/* Refuses contradictory provider settings with a message naming the values, as the worker would at start
  (services/session-worker/src/config.ts), but before anything is deployed. */}}
{{- define "rtv.provider.validate" -}}
{{- $p := .Values.provider -}}
{{- $az := $p.azure -}}
{{- if and $p.apiKey $p.existingSecret -}}
{{- fail "provider: set provider.apiKey or provider.existingSecret, not both" -}}
{{- end -}}
{{- if eq $p.kind "azure" -}}
  {{- if not $az.endpoint -}}
  {{- fail "provider.kind=azure needs provider.azure.endpoint (https://RESOURCE.openai.azure.com)" -}}
  {{- end -}}
  {{- if regexMatch "^https://[^/]+/(.*/)?openai(/.*)?$" $az.endpoint -}}
  {{- fail (printf "provider.azure.endpoint=%q: give the resource endpoint only (https://RESOURCE.openai.azure.com); the worker appends /openai/v1/realtime" $az.endpoint) -}}
  {{- end -}}
  {{- if not $az.deployment -}}
  {{- fail "provider.kind=azure needs provider.azure.deployment (the deployment name of a realtime model)" -}}
  {{- end -}}
  {{- $credentials := list -}}
  {{- if $az.apiKey }}{{ $credentials = append $credentials "provider.azure.apiKey" }}{{ end -}}
  {{- if $az.existingSecret }}{{ $credentials = append $credentials "provider.azure.existingSecret" }}{{ end -}}
  {{- if $az.tokenFile.enabled }}{{ $credentials = append $credentials "provider.azure.tokenFile.enabled" }}{{ end -}}
  {{- if ne (len $credentials) 1 -}}
  {{- fail (printf "provider.kind=azure needs exactly one credential: provider.azure.apiKey, provider.azure.existingSecret or provider.azure.tokenFile.enabled (set: %s)" (join ", " $credentials | default "none")) -}}
  {{- end -}}
  {{- if $az.tokenFile.enabled -}}
    {{- if or (ne (len $az.tokenFile.volume) 1) (hasKey $az.tokenFile.volume "name") -}}
    {{- fail "provider.azure.tokenFile.enabled needs provider.azure.tokenFile.volume: exactly one volume source holding the token file, without a name (e.g. csi, projected, or emptyDir written by a sidecar)" -}}
    {{- end -}}
    {{- if has (dir $az.tokenFile.path) (list "/" "/tmp") -}}
    {{- fail (printf "provider.azure.tokenFile.path=%q: put the file in a directory of its own (the volume is mounted there)" $az.tokenFile.path) -}}
    {{- end -}}
  {{- end -}}
  {{- if or $p.apiKey $p.existingSecret -}}
  {{- fail "provider.kind=azure: unset provider.apiKey and provider.existingSecret (the OpenAI key); the Azure key goes in provider.azure.apiKey or provider.azure.existingSecret" -}}
  {{- end -}}
  {{- if eq $p.shape "beta" -}}
  {{- fail "provider.kind=azure: Azure OpenAI serves the GA shape only; set provider.shape=ga" -}}
  {{- end -}}
{{- else -}}
  {{- $stray := list -}}
  {{- range $name := list "endpoint" "deployment" "apiKey" "existingSecret" -}}
  {{- if index $az $name }}{{ $stray = append $stray (printf "provider.azure.%s" $name) }}{{ end -}}
  {{- end -}}
  {{- if $az.tokenFile.enabled }}{{ $stray = append $stray "provider.azure.tokenFile.enabled" }}{{ end -}}
  {{- if $stray -}}
  {{- fail (printf "%s set but provider.kind is %s: set provider.kind=azure to use Azure OpenAI, or unset them" (join ", " $stray) $p.kind) -}}
  {{- end -}}
{{- end -}}
{{- $managed := splitList " " (include "rtv.provider.vars" .) -}}
{{- range $name, $_ := .Values.worker.env -}}
  {{- if has $name $managed -}}
  {{- fail (printf "worker.env.%s: provider variables are set through provider.* (provider.kind, provider.azure.*), never in worker.env" $name) -}}
  {{- end -}}
{{- end -}}
{{- range .Values.worker.extraEnv -}}
  {{- if has .name $managed -}}
  {{- fail (printf "worker.extraEnv %s: provider variables are set through provider.* (provider.kind, provider.azure.*), never in worker.extraEnv" .name) -}}
  {{- end -}}
{{- end -}}
{{- end -}}

{{/* Provider settings of the worker ConfigMap (no credential: keys come through secretKeyRef). */}}
{{- define "rtv.provider.config" -}}
{{- $p := .Values.provider -}}
RTV_PROVIDER: {{ $p.kind | quote }}
RTV_PROVIDER_SHAPE: {{ $p.shape | quote }}
{{- if eq $p.kind "azure" }}
AZURE_OPENAI_ENDPOINT: {{ $p.azure.endpoint | quote }}
AZURE_OPENAI_DEPLOYMENT: {{ $p.azure.deployment | quote }}
RTV_PROVIDER_RENEW_MS: {{ $p.azure.renewMs | int64 | toString | quote }}
{{- if $p.azure.tokenFile.enabled }}
AZURE_OPENAI_AD_TOKEN_FILE: {{ $p.azure.tokenFile.path | quote }}
{{- end }}
{{- else }}
OPENAI_REALTIME_MODEL: {{ $p.model | quote }}
OPENAI_REALTIME_URL: {{ $p.url | quote }}
{{- end }}
{{- end -}}

{{/* The worker's credential as an env entry, always through secretKeyRef; nothing for the local engine or a
  token file. */}}
{{- define "rtv.provider.env" -}}
{{- $p := .Values.provider -}}
{{- $ref := dict -}}
{{- if eq $p.kind "azure" -}}
  {{- if $p.azure.existingSecret -}}
  {{- $ref = dict "var" "AZURE_OPENAI_API_KEY" "name" $p.azure.existingSecret "key" $p.azure.existingSecretKey -}}
  {{- else if $p.azure.apiKey -}}
  {{- $ref = dict "var" "AZURE_OPENAI_API_KEY" "name" (include "rtv.secretName" .) "key" "AZURE_OPENAI_API_KEY" -}}
  {{- end -}}
{{- else -}}
  {{- if $p.existingSecret -}}
  {{- $ref = dict "var" "OPENAI_API_KEY" "name" $p.existingSecret "key" $p.existingSecretKey -}}
  {{- else if $p.apiKey -}}
  {{- $ref = dict "var" "OPENAI_API_KEY" "name" (include "rtv.secretName" .) "key" "OPENAI_API_KEY" -}}
  {{- end -}}
{{- end -}}
{{- if $ref -}}
# The provider key reaches workers only, and only through a Secret.
- name: {{ $ref.var }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.name }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* The token file's volume and mount (kind azure with tokenFile.enabled), as lists for podCommon and
  containerCommon. The whole directory is mounted, not a subPath: a subPath mount never sees a replaced file. */}}
{{- define "rtv.provider.volumes" -}}
{{- $t := .Values.provider.azure.tokenFile -}}
{{- if and (eq .Values.provider.kind "azure") $t.enabled -}}
- name: azure-openai-token
  {{- toYaml $t.volume | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "rtv.provider.volumeMounts" -}}
{{- $t := .Values.provider.azure.tokenFile -}}
{{- if and (eq .Values.provider.kind "azure") $t.enabled -}}
- name: azure-openai-token
  mountPath: {{ dir $t.path }}
  readOnly: true
{{- end -}}
{{- end -}}

{{/* Worker autoscaling on sessions ---------------------------------------------------------------------- */}}

{{/* PromQL for the sessions the workers should hold: those they hold (rtv_cluster_sessions) plus those waiting
  for a worker (rtv_cluster_queue_jobs{state="waiting"}), both from this release's status API as the
  ServiceMonitor scrapes it (Prometheus Operator adds the namespace and service labels). max(): every status
  API replica reports the same cluster-wide value. */}}
{{- define "rtv.worker.demandQuery" -}}
{{- $labels := printf "namespace=%q,service=%q" .Release.Namespace (include "rtv.componentName" (dict "ctx" . "component" "status-api")) -}}
{{- printf "max(rtv_cluster_sessions{%s}) + max(rtv_cluster_queue_jobs{%s,state=\"waiting\"})" $labels $labels -}}
{{- end -}}

{{/* Sessions per worker to aim for: percent of worker.capacity, at least 1. (dict "ctx" $ "percent" 70) */}}
{{- define "rtv.worker.targetSessions" -}}
{{- max 1 (div (mul .ctx.Values.worker.capacity .percent) 100) -}}
{{- end -}}

{{/* Replicas the workers' count is left to: an HPA (worker.autoscaling.enabled) or KEDA's. */}}
{{- define "rtv.worker.autoscaled" -}}
{{- if or .Values.worker.autoscaling.enabled .Values.worker.autoscaling.keda.enabled }}true{{ end -}}
{{- end -}}

{{/* helm test ---------------------------------------------------------------------------------------- */}}

{{/* The gateway route the test pod uses: the authenticated one when a Secret can give it a token
  (tests.auth.existingSecret, else auth.existingSecret), else the anonymous one when it is on; empty when the
  test could not authenticate (then no test pod is rendered). */}}
{{- define "rtv.tests.route" -}}
{{- if or .Values.tests.auth.existingSecret .Values.auth.existingSecret -}}
/api/v1/streaming/realtime
{{- else if .Values.auth.allowAnonymous -}}
/api/v1/streaming/realtime/helm-test
{{- end -}}
{{- end -}}

{{/* Pods -------------------------------------------------------------------------------------------- */}}

{{/* Stops rendering when the kubelet could kill a drain in progress. (dict "ctx" $ "name" "gateway" "c" .Values.gateway) */}}
{{- define "rtv.validateGrace" -}}
{{- $needed := add .ctx.Values.drain.timeoutSeconds .c.preStopSleepSeconds -}}
{{- if le (int .c.terminationGracePeriodSeconds) (int $needed) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must exceed drain.timeoutSeconds + %s.preStopSleepSeconds (%v)" .name .c.terminationGracePeriodSeconds .name $needed) -}}
{{- end -}}
{{- end -}}

{{/* Pod-level settings shared by the three services. (dict "ctx" $ "component" "gateway" "c" .Values.gateway),
  optionally "volumes": more volumes as YAML list text. */}}
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
{{- with .volumes }}
  {{- . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container-level settings shared by the three services. (dict "ctx" $ "c" .Values.gateway "port" "admin"),
  optionally "volumeMounts": more mounts as YAML list text. */}}
{{- define "rtv.containerCommon" -}}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .ctx.Values.containerSecurityContext | nindent 2 }}
resources:
  {{- toYaml .c.resources | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- with .volumeMounts }}
  {{- . | nindent 2 }}
{{- end }}
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
RTV_REDIS_MODE: {{ include "rtv.redis.mode" . | quote }}
REDIS_URL: {{ include "rtv.redis.url" . | quote }}
{{- if eq (include "rtv.redis.mode" .) "sentinel" }}
RTV_REDIS_SENTINEL_MASTER: {{ .Values.redis.external.sentinel.masterName | quote }}
{{- end }}
{{- if .Values.redis.external.tlsCaSecret }}
RTV_REDIS_TLS_CA_FILE: {{ printf "%s/ca.crt" (include "rtv.redis.tlsCaDir" .) | quote }}
{{- end }}
RTV_REDIS_PREFIX: {{ .Values.redis.prefix | quote }}
RTV_LOG_LEVEL: {{ .Values.logLevel | quote }}
{{- /* The services' own hard limit on a drain; the grace periods are checked against it (rtv.validateGrace). */}}
RTV_SHUTDOWN_TIMEOUT_S: {{ .Values.drain.timeoutSeconds | toString | quote }}
{{- end -}}

{{/* NAME: "value" for a number given in values; nothing for null, so the service's own default applies. */}}
{{- define "rtv.optionalInt" -}}
{{- if not (kindIs "invalid" .value) }}
{{ .var }}: {{ .value | int64 | toString | quote }}
{{- end }}
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
{{- /* The admin port defaults to loopback: Prometheus and the kubelet's probes come from outside the pod. */}}
RTV_ADMIN_HOST: "0.0.0.0"
RTV_STATUS_URL: {{ printf "http://%s:%v" (include "rtv.componentName" (dict "ctx" . "component" "status-api")) .Values.statusApi.port | quote }}
{{- /* The safe defaults (anonymous off, no browser origin) hold whatever image runs. */}}
NODE_ENV: "production"
RTV_ALLOW_ANONYMOUS: {{ .Values.auth.allowAnonymous | toString | quote }}
{{- with .Values.auth.allowedOrigins }}
RTV_ALLOWED_ORIGINS: {{ join "," . | quote }}
{{- end }}
{{- with .Values.gateway.trustedProxies }}
RTV_TRUSTED_PROXIES: {{ join "," . | quote }}
{{- end }}
{{- include "rtv.optionalInt" (dict "var" "RTV_MAX_CONNECTIONS_PER_IP" "value" .Values.gateway.maxConnectionsPerIp) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_MAX_CONNECTIONS_PER_GATEWAY" "value" .Values.gateway.maxConnectionsPerGateway) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_REDIS_RECOVERY_MS" "value" .Values.gateway.redisRecoveryMs) }}
{{- include "rtv.extraEnv" .Values.gateway.env }}
{{- end -}}

{{- define "rtv.worker.config" -}}
{{ include "rtv.commonEnv" . }}
RTV_WORKER_CAPACITY: {{ .Values.worker.capacity | quote }}
RTV_WORKER_ADMIN_PORT: {{ .Values.worker.adminPort | quote }}
RTV_ADMIN_HOST: "0.0.0.0"
{{- include "rtv.optionalInt" (dict "var" "RTV_HISTORY_MAX_BYTES" "value" .Values.worker.historyMaxBytes) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_PROVIDER_QUEUE_MAX_BYTES" "value" .Values.worker.providerQueueMaxBytes) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_PROVIDER_RETRY_BUDGET_S" "value" .Values.worker.providerRetryBudgetS) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_UNCOMMITTED_TURN_MAX_BYTES" "value" .Values.worker.uncommittedTurnMaxBytes) }}
{{- include "rtv.optionalInt" (dict "var" "RTV_LEASE_RECOVERY_MS" "value" .Values.worker.leaseRecoveryMs) }}
{{ include "rtv.provider.config" . }}
{{- include "rtv.extraEnv" .Values.worker.env }}
{{- end -}}

{{- define "rtv.statusApi.config" -}}
{{ include "rtv.commonEnv" . }}
RTV_STATUS_HOST: "0.0.0.0"
RTV_STATUS_PORT: {{ .Values.statusApi.port | quote }}
{{- /* The gateways forward the public seed routes with X-Forwarded-For: trust them as well as the ingress. */}}
{{- with concat (.Values.gateway.trustedProxies | default list) (.Values.statusApi.trustedProxies | default list) | uniq }}
RTV_TRUSTED_PROXIES: {{ join "," . | quote }}
{{- end }}
{{- include "rtv.extraEnv" .Values.statusApi.env }}
{{- end -}}

{{/* Data of the chart-managed Secret (base64), split by consumer so each pod hashes only what it mounts:
  a new provider key rolls the workers, not the gateways holding client sockets. */}}
{{- define "rtv.secretData.provider" -}}
{{- $p := .Values.provider -}}
{{- if eq $p.kind "azure" }}
{{- if and $p.azure.apiKey (not $p.azure.existingSecret) }}
AZURE_OPENAI_API_KEY: {{ $p.azure.apiKey | b64enc | quote }}
{{- end }}
{{- else if and $p.apiKey (not $p.existingSecret) }}
OPENAI_API_KEY: {{ $p.apiKey | b64enc | quote }}
{{- end }}
{{- end -}}

{{- define "rtv.secretData" -}}
{{- include "rtv.secretData.provider" . }}
{{- end -}}
