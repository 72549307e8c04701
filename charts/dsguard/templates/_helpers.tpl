{{/* Names and labels shared by every template of the chart. */}}

{{/* The chart name, or nameOverride. */}}
{{- define "dsguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name: fullnameOverride, else the release name when it already
contains the chart name, else "<release>-<chart>". Also the Service name. */}}
{{- define "dsguard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "dsguard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that select the webhook pods; never change them on upgrade. */}}
{{- define "dsguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dsguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dsguard.labels" -}}
helm.sh/chart: {{ include "dsguard.chart" . }}
{{ include "dsguard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dsguard
{{- end }}

{{- define "dsguard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dsguard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest, else repository:tag. */}}
{{- define "dsguard.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Service's in-cluster DNS name, the one the API server calls. */}}
{{- define "dsguard.serviceHost" -}}
{{- printf "%s.%s.svc" (include "dsguard.fullname" .) .Release.Namespace }}
{{- end }}

{{/* The Secret the pods serve TLS from. */}}
{{- define "dsguard.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" }}
{{- required "certificates.existingSecret.name is required with certificates.mode=existingSecret" .Values.certificates.existingSecret.name }}
{{- else }}
{{- printf "%s-tls" (include "dsguard.fullname" .) }}
{{- end }}
{{- end }}

{{/* The cert-manager Certificate for the serving certificate. */}}
{{- define "dsguard.certificateName" -}}
{{- printf "%s-tls" (include "dsguard.fullname" .) }}
{{- end }}

{{- define "dsguard.validatingWebhookName" -}}
{{- include "dsguard.fullname" . }}
{{- end }}

{{- define "dsguard.mutatingWebhookName" -}}
{{- include "dsguard.fullname" . }}
{{- end }}

{{/* Every DNS name the serving certificate must hold. */}}
{{- define "dsguard.dnsNames" -}}
{{- $svc := include "dsguard.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain) | toJson }}
{{- end }}

{{/* Restricted pod security context (Pod Security Standards "restricted"). */}}
{{- define "dsguard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "dsguard.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* A rule severity for the config file, quoted. YAML 1.1 (and so Helm)
reads an unquoted off as false: both mean "off". */}}
{{- define "dsguard.severity" -}}
{{- if eq (toString .) "false" }}"off"{{ else }}{{ . | quote }}{{ end }}
{{- end }}

{{/* A key of the config file: as it stands when YAML reads it back as the
same string, else JSON-quoted. */}}
{{- define "dsguard.key" -}}
{{- if and (regexMatch "^[A-Za-z][-A-Za-z0-9]*$" .) (not (has (lower .) (list "y" "n" "yes" "no" "on" "off" "true" "false" "null"))) }}
{{- . }}
{{- else }}
{{- toJson . }}
{{- end }}
{{- end }}

{{/* One rule's settings (a map of config.rules) for the config file, one
"key: value" line each: severity first, through dsguard.severity; then the
other keys in order, a list as a JSON list and a string JSON-quoted. An
empty string or null means none and is left out. Empty when nothing is set. */}}
{{- define "dsguard.ruleSettings" -}}
{{- $lines := list }}
{{- $severity := index . "severity" }}
{{- if not (kindIs "invalid" $severity) }}
{{- $lines = append $lines (printf "severity: %s" (include "dsguard.severity" $severity)) }}
{{- end }}
{{- range $key, $value := . }}
{{- if or (eq $key "severity") (kindIs "invalid" $value) (and (kindIs "string" $value) (eq $value "")) }}
{{- else }}
{{- $lines = append $lines (printf "%s: %s" (include "dsguard.key" $key) (toJson $value)) }}
{{- end }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}

{{/* "true" when the server writes PolicyReports: policyReports.enabled true,
or auto and the cluster serves wgpolicyk8s.io/v1alpha2; else empty. */}}
{{- define "dsguard.policyReports" -}}
{{- $on := .Values.policyReports.enabled }}
{{- if or (eq (toString $on) "true") (and (eq (toString $on) "auto") (.Capabilities.APIVersions.Has "wgpolicyk8s.io/v1alpha2")) }}true{{ end }}
{{- end }}

{{/* Whether a webhook.excludeNamespaces item is a glob (* or ?) rather than
a name: a label selector cannot hold a glob. */}}
{{- define "dsguard.isGlob" -}}
{{- if regexMatch "[*?]" . }}true{{ end }}
{{- end }}

{{/* The names of webhook.excludeNamespaces (with the release namespace and
kube-system, which are always left out), as a JSON list: the values of the
namespaceSelector's NotIn. */}}
{{- define "dsguard.excludedNames" -}}
{{- $names := list .Release.Namespace "kube-system" }}
{{- range .Values.webhook.excludeNamespaces }}
{{- if not (include "dsguard.isGlob" .) }}
{{- $names = append $names . }}
{{- end }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}

{{/* The globs of webhook.excludeNamespaces as config exemptions (a JSON
list, empty when there are none): dsguard matches them with its own glob
matcher, exempting every rule there. */}}
{{- define "dsguard.excludeGlobExemptions" -}}
{{- $globs := list }}
{{- range .Values.webhook.excludeNamespaces }}
{{- if include "dsguard.isGlob" . }}
{{- $globs = append $globs . }}
{{- end }}
{{- end }}
{{- if $globs }}
{{- list (dict "rules" (list "all") "namespaces" $globs "reason" "left out by the chart's webhook.excludeNamespaces") | toJson }}
{{- else }}
{{- list | toJson }}
{{- end }}
{{- end }}

{{/* The webhooks' namespaceSelector: webhook.namespaceSelector with the
names left out added to its matchExpressions. */}}
{{- define "dsguard.namespaceSelector" -}}
{{- $sel := deepCopy (.Values.webhook.namespaceSelector | default dict) }}
{{- $exprs := get $sel "matchExpressions" | default list }}
{{- $exprs = append $exprs (dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" (include "dsguard.excludedNames" . | fromJsonArray)) }}
{{- $_ := set $sel "matchExpressions" $exprs }}
{{- toYaml $sel }}
{{- end }}

{{/* The matchConditions of the webhooks (rendered where the cluster is
Kubernetes 1.30 or later: admissionregistration.k8s.io/v1 has them from
then on), as a YAML list; empty when there are none. */}}
{{- define "dsguard.matchConditions" -}}
{{- $mc := .Values.webhook.matchConditions }}
{{- $conds := list }}
{{- if $mc.skipUnchangedUpdates }}
{{- $ignore := "has(%s.metadata.annotations) && 'dsguard.io/ignore' in %s.metadata.annotations ? %s.metadata.annotations['dsguard.io/ignore'] : ''" }}
{{- $expr := printf "request.operation != 'UPDATE' || !has(object.spec) || !has(oldObject.spec) || !has(object.spec.template) || !has(oldObject.spec.template) || object.spec.template != oldObject.spec.template || (%s) != (%s)" (printf $ignore "object" "object" "object") (printf $ignore "oldObject" "oldObject" "oldObject") }}
{{- $conds = append $conds (dict "name" "changes-template-or-exemption" "expression" $expr) }}
{{- end }}
{{- $conds = concat $conds ($mc.extra | default list) }}
{{- if and $conds (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) }}
{{- toYaml $conds }}
{{- end }}
{{- end }}

{{/* Where admitted CREATEs hold their namespace (serve --claims):
webhook.claims, else cluster with more than one replica. */}}
{{- define "dsguard.claims" -}}
{{- if .Values.webhook.claims }}
{{- .Values.webhook.claims }}
{{- else if gt (int .Values.replicaCount) 1 }}
{{- "cluster" }}
{{- else }}
{{- "local" }}
{{- end }}
{{- end }}
