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

{{/*
The Secret of queryd's certificate: tls.crt and tls.key its server
certificate, ca.crt the CA of the collectors' client certificates.
*/}}
{{- define "weir.tls.serverSecret" -}}
{{- if eq .Values.tls.source "secret" -}}
{{- required "tls.source secret needs tls.secret.server: the Secret with queryd's certificate (tls.crt, tls.key) and the collectors' CA (ca.crt)" .Values.tls.secret.server -}}
{{- else -}}
{{- printf "%s-queryd-tls" (include "weir.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The Secret of the collectors' certificate: tls.crt and tls.key their client
certificate, ca.crt the CA of queryd's certificate.
*/}}
{{- define "weir.tls.clientSecret" -}}
{{- if eq .Values.tls.source "secret" -}}
{{- required "tls.source secret needs tls.secret.client: the Secret with the collectors' certificate (tls.crt, tls.key) and queryd's CA (ca.crt)" .Values.tls.secret.client -}}
{{- else -}}
{{- printf "%s-collector-tls" (include "weir.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The DNS names of queryd's certificate, as a JSON list: each of its three
Services by short name, with the namespace, with .svc and with the cluster
domain, the pod's name under the headless Service, then tls.extraDnsNames.
*/}}
{{- define "weir.tls.serverDnsNames" -}}
{{- $ns := .Release.Namespace -}}
{{- $domain := .Values.tls.clusterDomain -}}
{{- $queryd := include "weir.queryd.fullname" . -}}
{{- $headless := printf "%s-headless" $queryd -}}
{{- $names := list -}}
{{- range $svc := list $queryd (include "weir.queryd.ingestService" .) $headless -}}
{{- $names = concat $names (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns)) -}}
{{- if $domain -}}
{{- $names = append $names (printf "%s.%s.svc.%s" $svc $ns $domain) -}}
{{- end -}}
{{- end -}}
{{- $names = append $names (printf "%s-0.%s.%s.svc" $queryd $headless $ns) -}}
{{- if $domain -}}
{{- $names = append $names (printf "%s-0.%s.%s.svc.%s" $queryd $headless $ns $domain) -}}
{{- end -}}
{{- $names = concat $names .Values.tls.extraDnsNames -}}
{{- toJson $names -}}
{{- end -}}

{{/* The name in queryd's certificate that clients verify: its Service's. */}}
{{- define "weir.tls.serverName" -}}
{{- printf "%s.%s.svc" (include "weir.queryd.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
A probe with scheme HTTPS on its httpGet when TLS is on and it names no
scheme: (dict "probe" $q.livenessProbe "ctx" $). The kubelet does not verify
the certificate; /v1/health needs no token.
*/}}
{{- define "weir.queryd.probe" -}}
{{- $p := deepCopy .probe -}}
{{- if and .ctx.Values.tls.enabled (kindIs "map" $p.httpGet) -}}
{{- if not (hasKey $p.httpGet "scheme") -}}
{{- $_ := set $p.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- end -}}
{{- toYaml $p -}}
{{- end -}}
