{{/* The dsguard config file, config.yaml, as the chart renders it from
`config`: the webhook's ConfigMap holds it, and the admission policies are
made from it (so both read the same settings).

config.exemptions is rendered entry by entry as JSON (valid YAML),
followed by one entry for the globs of webhook.excludeNamespaces; dsguard
checks every entry when it loads the file. config.rules is rendered as it stands, rule by rule and key by key
(dsguard.ruleSettings), so a rule added to dsguard is configurable here with
no change to the chart; dsguard refuses a rule or key it does not know when
it loads the file, naming the file, line and key. */}}
{{- define "dsguard.configFile" -}}
{{- $c := .Values.config -}}
enforce: {{ $c.enforce }}
allowExemptionAnnotation: {{ if kindIs "invalid" $c.allowExemptionAnnotation }}true{{ else }}{{ toJson $c.allowExemptionAnnotation }}{{ end }}
{{- $exemptions := concat ($c.exemptions | default list) (include "dsguard.excludeGlobExemptions" . | fromJsonArray) }}
{{- if $exemptions }}
exemptions:
{{- range $exemptions }}
  - {{ toJson . }}
{{- end }}
{{- end }}
rules:{{ if not $c.rules }} {}{{ end }}
{{- range $rule, $settings := $c.rules }}
{{- if kindIs "map" $settings }}
{{- $body := include "dsguard.ruleSettings" $settings }}
  {{ include "dsguard.key" $rule }}:{{ if $body }}{{ $body | nindent 4 }}{{ else }} {}{{ end }}
{{- else if not (kindIs "invalid" $settings) }}
  {{ include "dsguard.key" $rule }}: {{ toJson $settings }}
{{- end }}
{{- end }}
{{- end }}
