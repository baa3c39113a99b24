{{/* Names, labels and small shared pieces of the weir chart. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every resource name: fullnameOverride, else "<release>-<name>",
else the release name alone when it already contains the chart name.
Kept to 45 characters so "<prefix>-collector-metrics" and the StatefulSet's
pod labels stay within Kubernetes' 63.
*/}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "weir.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 45 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 45 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weir.collector.fullname" -}}
{{- printf "%s-collector" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.queryd.fullname" -}}
{{- printf "%s-queryd" (include "weir.fullname" .) -}}
{{- end -}}

{{/* The Service collectors ship to. */}}
{{- define "weir.queryd.ingestService" -}}
{{- printf "%s-queryd-ingest" (include "weir.fullname" .) -}}
{{- end -}}

{{/* "name-version" for the helm.sh/chart label. */}}
{{- define "weir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "weir.labels" -}}
helm.sh/chart: {{ include "weir.chart" . }}
app.kubernetes.io/name: {{ include "weir.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: weir
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "queryd"). */}}
{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component: (dict "ctx" $ "component" "queryd"). */}}
{{- define "weir.componentLabels" -}}
{{ include "weir.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image reference: repository, then @digest or :tag (appVersion). */}}
{{- define "weir.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- if not (hasPrefix "sha256:" .Values.image.digest) -}}
{{- fail (printf "image.digest %q must start with sha256:" .Values.image.digest) -}}
{{- end -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "weir.collector.serviceAccountName" -}}
{{- if .Values.collector.serviceAccount.create -}}
{{- default (include "weir.collector.fullname" .) .Values.collector.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.collector.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.queryd.serviceAccountName" -}}
{{- if .Values.queryd.serviceAccount.create -}}
{{- default (include "weir.queryd.fullname" .) .Values.queryd.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.queryd.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where collectors ship: collector.querydAddress, else the ingest Service. */}}
{{- define "weir.collector.querydAddress" -}}
{{- if .Values.collector.querydAddress -}}
{{- .Values.collector.querydAddress -}}
{{- else if .Values.queryd.enabled -}}
{{- printf "%s.%s.svc:%d" (include "weir.queryd.ingestService" .) .Release.Namespace (int .Values.queryd.grpcPort) -}}
{{- else -}}
{{- fail "collector.querydAddress is required when queryd.enabled is false: the collectors need somewhere to ship" -}}
{{- end -}}
{{- end -}}

{{/*
A port value as an integer in 1..65535, or fail naming the value:
(dict "value" .Values.queryd.grpcPort "name" "queryd.grpcPort").
*/}}
{{- define "weir.port" -}}
{{- $p := .value -}}
{{- if not (or (kindIs "float64" $p) (kindIs "int64" $p) (kindIs "int" $p)) -}}
{{- fail (printf "%s must be a port number, not %v" .name $p) -}}
{{- end -}}
{{- if or (lt (int $p) 1) (gt (int $p) 65535) -}}
{{- fail (printf "%s must be in 1..65535, not %v" .name $p) -}}
{{- end -}}
{{- int $p -}}
{{- end -}}

{{/* "host:port" with IPv6 hosts in brackets; "[::]" is kept as given. */}}
{{- define "weir.hostPort" -}}
{{- if and (contains ":" .host) (not (hasPrefix "[" .host)) -}}
{{- printf "[%s]:%v" .host .port -}}
{{- else -}}
{{- printf "%s:%v" .host .port -}}
{{- end -}}
{{- end -}}

{{/* --interfaces: "all", a comma-separated string, or a list of names. */}}
{{- define "weir.collector.interfaces" -}}
{{- $i := .Values.collector.interfaces -}}
{{- if kindIs "slice" $i -}}
{{- $i = join "," $i -}}
{{- end -}}
{{- if not $i -}}
{{- fail "collector.interfaces must not be empty: use \"all\" or name the interfaces" -}}
{{- end -}}
{{- if regexMatch "[[:space:]]" (toString $i) -}}
{{- fail (printf "collector.interfaces %q: interface names have no spaces; separate them with commas" $i) -}}
{{- end -}}
{{- $i -}}
{{- end -}}
