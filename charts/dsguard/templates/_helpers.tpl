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
