{{/* The rules as Kubernetes admission policies (admissionPolicies.enabled),
made from the chart's config file (dsguard.configFile) into the objects
`dsguard policy` makes from the same file: `dsguard policy --config
config.yaml --kube-version V [--mutating] --name-prefix <fullname>-
--namespace-selector ... --object-selector ...` (docs/policies.md).
policy/ in the dsguard source is the reference for every word and
expression below; test/e2e/test_chart_policies.py holds the two equal.
The CEL is core CEL; JSONPatch{...} in the mutating policies is the one
Kubernetes CEL type (the object type of a patch operation). */}}

{{/* The rules the policies translate (policy/rules.c), with the options
their settings take, as a JSON list. A rule dsguard adds needs its
translation here as in policy/rules.c. */}}
{{- define "dsguard.policy.rules" -}}
{{- list
    (dict "id" "DS001" "name" "priority-class" "namespaced" false "fix" true
          "options" (dict "default" "name" "allowed" "list"))
    (dict "id" "DS002" "name" "restart-policy" "namespaced" false "fix" true "options" dict)
    (dict "id" "DS003" "name" "dedicated-namespace" "namespaced" true "fix" false
          "options" (dict "exemptNamespaces" "list"))
  | toJson }}
{{- end }}

{{/* A string as a CEL string literal: single-quoted, with backslash,
quote and control characters escaped. */}}
{{- define "dsguard.cel.quote" -}}
{{- $s := . | replace "\\" "\\\\" | replace "'" "\\'" | replace "\n" "\\n" | replace "\t" "\\t" }}
{{- range $c := until 32 }}
{{- if and (ne $c 9) (ne $c 10) }}
{{- $s = replace (printf "%c" $c) (printf "\\u%04x" $c) $s }}
{{- end }}
{{- end }}
{{- printf "'%s'" (replace (printf "%c" 127) "\\u007f" $s) }}
{{- end }}

{{/* A list of strings as a CEL list of string literals: ['a', 'b']. */}}
{{- define "dsguard.cel.list" -}}
{{- $items := list }}
{{- range . }}
{{- $items = append $items (include "dsguard.cel.quote" .) }}
{{- end }}
{{- printf "[%s]" (join ", " $items) }}
{{- end }}

{{/* "true" when a key can be selected as .key in CEL, else empty. */}}
{{- define "dsguard.cel.isIdent" -}}
{{- if and (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" .) (not (has . (list "true" "false" "null" "in"))) }}true{{ end }}
{{- end }}

{{/* The CEL selection of the keys `tokens` below `base` (a list of the two):
object.spec.template, object.metadata.labels['app.kubernetes.io/name']. */}}
{{- define "dsguard.cel.select" -}}
{{- $out := index . 0 }}
{{- range index . 1 }}
{{- if include "dsguard.cel.isIdent" . }}
{{- $out = printf "%s.%s" $out . }}
{{- else }}
{{- $out = printf "%s[%s]" $out (include "dsguard.cel.quote" .) }}
{{- end }}
{{- end }}
{{- $out }}
{{- end }}

{{/* A condition that holds when every key of `tokens` below `base` down to
the last but one is a map and, with `last`, the last is there (a list of
the three): has(object.spec) && type(object.spec) == map && has(...). */}}
{{- define "dsguard.cel.present" -}}
{{- $base := index . 0 }}
{{- $tokens := index . 1 }}
{{- $parts := list }}
{{- range $i, $tok := $tokens }}
{{- $isLast := eq (add1 $i) (len $tokens) }}
{{- if and $isLast (not (index $ 2)) }}{{ break }}{{ end }}
{{- $upto := slice $tokens 0 (add1 $i) }}
{{- $part := "" }}
{{- if include "dsguard.cel.isIdent" $tok }}
{{- $part = printf "has(%s)" (include "dsguard.cel.select" (list $base $upto)) }}
{{- else }}
{{- $part = printf "%s in %s" (include "dsguard.cel.quote" $tok) (include "dsguard.cel.select" (list $base (slice $tokens 0 $i))) }}
{{- end }}
{{- if not $isLast }}
{{- $part = printf "%s && type(%s) == map" $part (include "dsguard.cel.select" (list $base $upto)) }}
{{- end }}
{{- $parts = append $parts $part }}
{{- end }}
{{- if $parts }}{{ join " && " $parts }}{{ else }}true{{ end }}
{{- end }}

{{/* A string in an RE2 pattern, matching itself; with `fold` (a list of
the two) its letters match in either case. */}}
{{- define "dsguard.re2.literal" -}}
{{- $fold := index . 1 }}
{{- range splitList "" (index . 0) }}
{{- if and $fold (regexMatch "^[A-Za-z]$" .) }}[{{ upper . }}{{ lower . }}]
{{- else if regexMatch `^[\\.+*?()|\[\]{}^$]$` . }}\{{ . }}
{{- else }}{{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when a glob has no unescaped * or ?, else empty. */}}
{{- define "dsguard.glob.isLiteral" -}}
{{- if regexMatch `^(?s)(\\.|[^*?\\]|\\$)*$` . }}true{{ end }}
{{- end }}

{{/* The RE2 pattern of a glob: * any run, ? one character, \x the
character x, every other character itself; anchored. */}}
{{- define "dsguard.glob.pattern" -}}
{{- $out := "^" }}
{{- $escaped := false }}
{{- $chars := splitList "" . }}
{{- range $i, $c := $chars }}
{{- if $escaped }}
{{- $out = printf "%s%s" $out (include "dsguard.re2.literal" (list $c false)) }}
{{- $escaped = false }}
{{- else if and (eq $c "\\") (lt (add1 $i) (len $chars)) }}
{{- $escaped = true }}
{{- else if eq $c "*" }}
{{- $out = printf "%s.*" $out }}
{{- else if eq $c "?" }}
{{- $out = printf "%s." $out }}
{{- else }}
{{- $out = printf "%s%s" $out (include "dsguard.re2.literal" (list $c false)) }}
{{- end }}
{{- end }}
{{- printf "%s$" $out }}
{{- end }}

{{/* A condition that holds when the CEL string `value` matches one of
`globs` (a list of the two): a literal by equality, a pattern by matches(). */}}
{{- define "dsguard.cel.globs" -}}
{{- $value := index . 0 }}
{{- $tests := list }}
{{- range index . 1 }}
{{- if include "dsguard.glob.isLiteral" . }}
{{- $tests = append $tests (printf "%s == %s" $value (include "dsguard.cel.quote" (regexReplaceAll `(?s)\\(.)` . "${1}"))) }}
{{- else }}
{{- $tests = append $tests (printf "%s.matches(%s)" $value (include "dsguard.cel.quote" (include "dsguard.glob.pattern" .))) }}
{{- end }}
{{- end }}
{{- printf "(%s)" (join " || " $tests) }}
{{- end }}

{{/* The longest start of a string that is at most `max` bytes and does not
split a character (a list of the two). */}}
{{- define "dsguard.utf8Prefix" -}}
{{- $max := index . 1 }}
{{- $n := 0 }}
{{- range splitList "" (index . 0) }}
{{- if gt (add $n (len .)) $max }}{{ break }}{{ end }}
{{- $n = add $n (len .) }}{{ . }}
{{- end }}
{{- end }}

{{/* Text cut to `max` bytes (a list of the two), ending in "..." when it
was longer: as dsguard cuts an exemption's reason (at most max bytes in
all) or, with a third item true, a message's list (below max bytes). */}}
{{- define "dsguard.textCut" -}}
{{- $s := index . 0 }}
{{- $max := index . 1 }}
{{- $below := and (gt (len .) 2) (index . 2) }}
{{- if or (lt (len $s) $max) (and (not $below) (eq (len $s) $max)) }}
{{- $s }}
{{- else }}
{{- include "dsguard.utf8Prefix" (list $s (sub $max (ternary 4 3 $below))) }}...
{{- end }}
{{- end }}

{{/* Days from 1970-01-01 to the date (a list of year, month, day). */}}
{{- define "dsguard.daysFromCivil" -}}
{{- $m := index . 1 }}
{{- $y := ternary (sub (index . 0) 1) (index . 0) (le $m 2) }}
{{- $era := div (ternary $y (sub $y 399) (ge $y 0)) 400 }}
{{- $yoe := sub $y (mul $era 400) }}
{{- $doy := add (div (add (mul 153 (ternary (sub $m 3) (add $m 9) (gt $m 2))) 2) 5) (sub (index . 2) 1) }}
{{- $doe := add (mul $yoe 365) (div $yoe 4) (sub 0 (div $yoe 100)) $doy }}
{{- sub (add (mul $era 146097) $doe) 719468 }}
{{- end }}

{{/* An exemption's `expires` as the second at which it stops holding: a
date holds to the end of that day (UTC), an RFC 3339 time to that moment
(a fraction of a second to the next whole second). Fails with `where`
named when it is neither (a list of the text and where). */}}
{{- define "dsguard.policy.expiry" -}}
{{- $text := index . 0 }}
{{- $re := `^([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(?:[Zz]|([+-][0-9]{2}):([0-9]{2})))?$` }}
{{- $bad := printf "%s: expires must be a date (2027-03-31: the entry holds to the end of that day, UTC) or an RFC 3339 time (2027-03-31T18:00:00Z, 2027-03-31T18:00:00+02:00), not %s" (index . 1) (toJson $text) }}
{{- if not (regexMatch $re $text) }}{{ fail $bad }}{{ end }}
{{- $g := list }}
{{- range $i := until 9 }}
{{- $g = append $g (regexReplaceAll $re $text (printf "${%d}" (add1 $i))) }}
{{- end }}
{{- $y := atoi (index $g 0) }}
{{- $mo := atoi (index $g 1) }}
{{- $d := atoi (index $g 2) }}
{{- $leap := or (and (eq (mod $y 4) 0) (ne (mod $y 100) 0)) (eq (mod $y 400) 0) }}
{{- $days := index (list 31 (ternary 29 28 $leap) 31 30 31 30 31 31 30 31 30 31) (max 0 (min 11 (sub $mo 1))) }}
{{- if or (lt $mo 1) (gt $mo 12) (lt $d 1) (gt $d $days) }}{{ fail $bad }}{{ end }}
{{- $dateOnly := not (contains ":" $text) }}
{{- $h := atoi (index $g 3) }}
{{- $mi := atoi (index $g 4) }}
{{- $s := atoi (index $g 5) }}
{{- $zh := atoi (trimPrefix "+" (index $g 7)) }}
{{- $zm := atoi (index $g 8) }}
{{- if or (gt $h 23) (gt $mi 59) (gt $s 60) (gt (max $zh (sub 0 $zh)) 23) (gt $zm 59) }}{{ fail $bad }}{{ end }}
{{- $offset := mul (ternary -1 1 (hasPrefix "-" (index $g 7))) (add (mul (max $zh (sub 0 $zh)) 3600) (mul $zm 60)) }}
{{- $day := atoi (include "dsguard.daysFromCivil" (list $y $mo (ternary (add1 $d) $d $dateOnly))) }}
{{- add (mul $day 86400) (mul $h 3600) (mul $mi 60) $s (sub 0 $offset) (ternary 1 0 (regexMatch "[1-9]" (index $g 6))) }}
{{- end }}

{{/* The config file read as dsguard reads it, for the policies, as JSON:
{enforce, annotation (whether it exempts), grant {namespaces, users,
groups, requireReason}, exemptions [{ids, namespaces, names, labels,
reason, expires, expiry}], rules {ID: {severity, options}}}. Fails where
dsguard refuses the file, naming the value: with the webhook off nothing
else would read it. */}}
{{- define "dsguard.policy.settings" -}}
{{- $file := include "dsguard.configFile" . | fromYaml }}
{{- $rules := include "dsguard.policy.rules" . | fromJsonArray }}
{{- $names := list }}
{{- $byRule := dict }}
{{- range $rules }}
{{- $names = append $names .name }}
{{- $opts := dict }}
{{- range $key, $type := .options }}
{{- $_ := set $opts $key (ternary list "" (eq $type "list")) }}
{{- end }}
{{- $_ := set $byRule .id (dict "severity" "error" "options" $opts) }}
{{- end }}
{{- range $key, $settings := $file.rules }}
{{- $rule := dict }}
{{- range $rules }}
{{- if or (eq (upper $key) .id) (eq $key .name) }}{{ $rule = . }}{{ end }}
{{- end }}
{{- if not $rule }}
{{- fail (printf "config.rules: unknown rule %s (known: %s): the admission policies translate only these" (toJson $key) (join ", " $names)) }}
{{- end }}
{{- $rs := get $byRule $rule.id }}
{{- range $k, $v := $settings }}
{{- if eq $k "severity" }}
{{- $sev := ternary "off" (toString $v) (kindIs "bool" $v) }}
{{- if not (has $sev (list "error" "warning" "off")) }}
{{- fail (printf "config.rules.%s.severity must be error, warning or off" $key) }}
{{- end }}
{{- $_ := set $rs "severity" $sev }}
{{- else if hasKey $rule.options $k }}
{{- $list := eq (get $rule.options $k) "list" }}
{{- $_ := set $rs.options $k (ternary (list) "" $list) }}
{{- if and $list (kindIs "slice" $v) }}
{{- $_ := set $rs.options $k $v }}
{{- else if and (not $list) (kindIs "string" $v) }}
{{- $_ := set $rs.options $k $v }}
{{- else if not (kindIs "invalid" $v) }}
{{- fail (printf "config.rules.%s.%s must be %s" $key $k (ternary "a list of names" "a name" $list)) }}
{{- end }}
{{- else }}
{{- fail (printf "config.rules.%s: unknown key %s (known: %s)" $key (toJson $k) (prepend (keys $rule.options | sortAlpha) "severity" | join ", ")) }}
{{- end }}
{{- end }}
{{- end }}
{{- $pc := get $byRule "DS001" }}
{{- if and $pc.options.default $pc.options.allowed (not (has $pc.options.default $pc.options.allowed)) }}
{{- fail (printf "config.rules.priority-class: default %s is not one of the allowed classes" (toJson $pc.options.default)) }}
{{- end }}
{{- $annotation := $file.allowExemptionAnnotation }}
{{- $grant := dict "namespaces" list "users" list "groups" list "requireReason" false }}
{{- if kindIs "map" $annotation }}
{{- $grant = merge (deepCopy $annotation) $grant }}
{{- $annotation = true }}
{{- end }}
{{- range $grant.namespaces }}
{{- if regexMatch `(^|[^\\])(\\\\)*\\$` . }}
{{- fail (printf "config.allowExemptionAnnotation.namespaces: %s is not a glob: it ends in a lone backslash" (toJson .)) }}
{{- end }}
{{- end }}
{{- $exemptions := list }}
{{- range $i, $e := $file.exemptions | default list }}
{{- $where := printf "config.exemptions[%d]" $i }}
{{- $ids := list }}
{{- range $e.rules }}
{{- $item := . }}
{{- $found := false }}
{{- range $rules }}
{{- if or (eq (upper $item) .id) (eq $item .name) (eq (lower $item) "all") }}
{{- $ids = append $ids .id }}
{{- $found = true }}
{{- end }}
{{- end }}
{{- if not $found }}
{{- fail (printf "%s.rules: unknown rule %s (known: %s, or all)" $where (toJson $item) (join ", " $names)) }}
{{- end }}
{{- end }}
{{- if not (or $e.namespaces $e.names $e.labels) }}
{{- fail (printf "%s: an exemption must select DaemonSets by namespaces, names or labels" $where) }}
{{- end }}
{{- range concat ($e.namespaces | default list) ($e.names | default list) }}
{{- if regexMatch `(^|[^\\])(\\\\)*\\$` . }}
{{- fail (printf "%s: %s is not a glob: it ends in a lone backslash (write \\\\ for a backslash)" $where (toJson .)) }}
{{- end }}
{{- end }}
{{- range $k, $v := $e.labels }}
{{- if not (regexMatch `^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$` $k) }}
{{- fail (printf "%s.labels: %s is not a Kubernetes label key" $where (toJson $k)) }}
{{- end }}
{{- if not (regexMatch `^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$` (toString $v)) }}
{{- fail (printf "%s.labels: %s is not a Kubernetes label value" $where (toJson $v)) }}
{{- end }}
{{- end }}
{{- $entry := dict "ids" ($ids | uniq) "namespaces" ($e.namespaces | default list) "names" ($e.names | default list)
      "labels" ($e.labels | default dict) "reason" $e.reason }}
{{- if hasKey $e "expires" }}
{{- $_ := set $entry "expires" $e.expires }}
{{- $_ := set $entry "expiry" (include "dsguard.policy.expiry" (list (toString $e.expires) (printf "%s.expires" $where)) | atoi) }}
{{- end }}
{{- $exemptions = append $exemptions $entry }}
{{- end }}
{{- toJson (dict "enforce" (ternary $file.enforce true (hasKey $file "enforce")) "annotation" (ne (toString $annotation) "false")
      "grant" $grant "exemptions" $exemptions "rules" $byRule) }}
{{- end }}

{{/* The namespace a DaemonSet is in as the webhook reads it (its own, else
the request's), and its name ('' when it has none): matchConditions cannot
read variables, so these are written out where needed. */}}
{{- define "dsguard.cel.namespace" -}}
(has(object.metadata) && type(object.metadata) == map && has(object.metadata.namespace) && type(object.metadata.namespace) == string && object.metadata.namespace != '' ? object.metadata.namespace : request.namespace)
{{- end }}
{{- define "dsguard.cel.name" -}}
(has(object.metadata) && type(object.metadata) == map && has(object.metadata.name) && type(object.metadata.name) == string ? object.metadata.name : '')
{{- end }}

{{/* The condition that `base`'s dsguard.io/ignore names the rule (a list
of the base and the rule): one RE2 pattern reads the comma-separated value
as the engine does (split() is not core CEL). */}}
{{- define "dsguard.cel.namesRule" -}}
{{- $base := index . 0 }}
{{- $rule := index . 1 }}
{{- $sel := include "dsguard.cel.select" (list $base (list "metadata" "annotations" "dsguard.io/ignore")) }}
{{- $pattern := printf "(^|,)[ \\t]*(%s|%s|%s)[ \\t\\n\\v\\f\\r]*(,|$)" (include "dsguard.re2.literal" (list $rule.id true)) (include "dsguard.re2.literal" (list $rule.name false)) (include "dsguard.re2.literal" (list "all" true)) }}
{{- include "dsguard.cel.present" (list $base (list "metadata" "annotations" "dsguard.io/ignore") true) }} && type({{ $sel }}) == string
  && {{ $sel }}.matches({{ include "dsguard.cel.quote" $pattern }})
{{- end }}

{{/* The condition that the object gives a reason: a
dsguard.io/ignore-reason of more than white space. */}}
{{- define "dsguard.cel.hasReason" -}}
{{- $sel := include "dsguard.cel.select" (list "object" (list "metadata" "annotations" "dsguard.io/ignore-reason")) }}
{{- include "dsguard.cel.present" (list "object" (list "metadata" "annotations" "dsguard.io/ignore-reason") true) }} && type({{ $sel }}) == string && {{ $sel }}.matches('[^ \\t\\n\\v\\f\\r]')
{{- end }}

{{/* What exempts a rule (a dict: rule, settings, now), in the order the
engine tries it: the config's entries that name the rule and have not
expired by now, then the annotation within the config's limits. A JSON
list of {condition, message}: the CEL under which it exempts, and the
warning of an exempted finding (a CEL string over variables.finding). */}}
{{- define "dsguard.policy.exemptions" -}}
{{- $rule := .rule }}
{{- $s := .settings }}
{{- $out := list }}
{{- range $s.exemptions }}
{{- if and (has $rule.id .ids) (or (not (hasKey . "expiry")) (lt (int64 $.now) (int64 .expiry))) }}
{{- $parts := list }}
{{- if .namespaces }}
{{- $parts = append $parts (include "dsguard.cel.globs" (list (include "dsguard.cel.namespace" .) .namespaces)) }}
{{- end }}
{{- if .names }}
{{- $parts = append $parts (include "dsguard.cel.globs" (list (include "dsguard.cel.name" .) .names)) }}
{{- end }}
{{- range $key, $value := .labels }}
{{- $tokens := list "metadata" "labels" $key }}
{{- $sel := include "dsguard.cel.select" (list "object" $tokens) }}
{{- $parts = append $parts (printf "(%s && type(%s) == string && %s == %s)" (include "dsguard.cel.present" (list "object" $tokens true)) $sel $sel (include "dsguard.cel.quote" (toString $value))) }}
{{- end }}
{{- $said := printf "%s %s exempted by config (%s): " $rule.id $rule.name (include "dsguard.textCut" (list .reason 256)) }}
{{- $out = append $out (dict "condition" (join "\n  && " $parts) "message" (printf "%s + variables.finding" (include "dsguard.cel.quote" $said))) }}
{{- end }}
{{- end }}
{{- if $s.annotation }}
{{- $g := $s.grant }}
{{- $cond := include "dsguard.cel.namesRule" (list "object" $rule) }}
{{- if $g.namespaces }}
{{- $cond = printf "%s\n  && %s" $cond (include "dsguard.cel.globs" (list (include "dsguard.cel.namespace" .) $g.namespaces)) }}
{{- end }}
{{- if $g.requireReason }}
{{- $cond = printf "%s\n  && %s" $cond (include "dsguard.cel.hasReason" .) }}
{{- end }}
{{- if or $g.users $g.groups }}
{{- $listed := list }}
{{- if $g.users }}
{{- $listed = append $listed (printf "(has(request.userInfo.username) && request.userInfo.username in %s)" (include "dsguard.cel.list" $g.users)) }}
{{- end }}
{{- if $g.groups }}
{{- $listed = append $listed (printf "(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in %s))" (include "dsguard.cel.list" $g.groups)) }}
{{- end }}
{{- $cond = printf "%s\n  && ((%s) || (request.operation == 'UPDATE' && oldObject != null && %s))" $cond (join " || " $listed) (include "dsguard.cel.namesRule" (list "oldObject" $rule)) }}
{{- end }}
{{- $head := printf "%s %s exempted by annotation dsguard.io/ignore" $rule.id $rule.name }}
{{- $with := printf "%s + object.metadata.annotations['dsguard.io/ignore-reason'] + %s + variables.finding" (include "dsguard.cel.quote" (printf "%s (" $head)) (include "dsguard.cel.quote" "): ") }}
{{- $without := printf "%s + variables.finding" (include "dsguard.cel.quote" (printf "%s: " $head)) }}
{{- $out = append $out (dict "condition" $cond "message" (printf "(%s)\n  ? %s\n  : %s" (include "dsguard.cel.hasReason" .) $with $without)) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* A label selector of the values (matchLabels, matchExpressions) as
matchExpressions alone, as `dsguard policy --namespace-selector` and
--object-selector write them: each label k: v as k In [v], in key order,
then the expressions. A JSON list. */}}
{{- define "dsguard.policy.expressions" -}}
{{- $exprs := list }}
{{- range $k, $v := .matchLabels }}
{{- $exprs = append $exprs (dict "key" $k "operator" "In" "values" (list $v)) }}
{{- end }}
{{- range .matchExpressions }}
{{- if has .operator (list "In" "NotIn") }}
{{- $exprs = append $exprs (dict "key" .key "operator" .operator "values" (.values | default list)) }}
{{- else }}
{{- $exprs = append $exprs (dict "key" .key "operator" .operator) }}
{{- end }}
{{- end }}
{{- toJson $exprs }}
{{- end }}

{{/* The bindings' matchResources (a JSON object): the namespaces the
webhooks see (webhook.namespaceSelector, less the release namespace,
kube-system and the names of webhook.excludeNamespaces) and the DaemonSets
they see (webhook.objectSelector). */}}
{{- define "dsguard.policy.matchResources" -}}
{{- $ns := include "dsguard.policy.expressions" (.Values.webhook.namespaceSelector | default dict) | fromJsonArray }}
{{- $ns = append $ns (dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" (include "dsguard.excludedNames" . | fromJsonArray)) }}
{{- $out := dict "namespaceSelector" (dict "matchExpressions" $ns) }}
{{- $obj := include "dsguard.policy.expressions" (.Values.webhook.objectSelector | default dict) | fromJsonArray }}
{{- if $obj }}
{{- $_ := set $out "objectSelector" (dict "matchExpressions" $obj) }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* What a rule becomes in CEL (a dict: rule, options, mutating), as JSON:
{variables [{name, expression}], validating, patch ("" for none),
unpatched (why there is no patch)}. The finding's words are the rules'
own (rules/table.c); the last variable, finding, is '' where the rule has
nothing to say. */}}
{{- define "dsguard.policy.cel" -}}
{{- $rule := .rule }}
{{- $vars := list
    (dict "name" "objectNamespace" "expression" "has(object.metadata) && type(object.metadata) == map && has(object.metadata.namespace) && type(object.metadata.namespace) == string && object.metadata.namespace != ''\n  ? object.metadata.namespace : request.namespace")
    (dict "name" "objectName" "expression" "has(object.metadata) && type(object.metadata) == map && has(object.metadata.name) && type(object.metadata.name) == string\n  ? object.metadata.name : ''") }}
{{- $out := dict "validating" true "patch" "" "unpatched" "" }}
{{- $podSpec := list "spec" "template" "spec" }}
{{- $reachable := include "dsguard.cel.present" (list "object" (append $podSpec "x") false) }}
{{- if eq $rule.id "DS001" }}
{{- $field := append $podSpec "priorityClassName" }}
{{- $vars = append $vars (dict "name" "value" "expression" (printf "%s ? %s : null" (include "dsguard.cel.present" (list "object" $field true)) (include "dsguard.cel.select" (list "object" $field)))) }}
{{- $finding := "type(variables.value) == null_type\n  ? 'spec.template.spec.priorityClassName is not set'\n  : type(variables.value) != string\n  ? 'spec.template.spec.priorityClassName is not a string'\n  : variables.value == ''\n  ? 'spec.template.spec.priorityClassName is empty'\n  : " }}
{{- with .options.allowed }}
{{- $joined := include "dsguard.textCut" (list (join ", " .) 512 true) }}
{{- $finding = printf "%s!(variables.value in %s)\n  ? %s + variables.value + %s\n  : " $finding (include "dsguard.cel.list" .) (include "dsguard.cel.quote" "spec.template.spec.priorityClassName \"") (include "dsguard.cel.quote" (printf "\" is not one of the allowed classes (%s)" $joined)) }}
{{- end }}
{{- $vars = append $vars (dict "name" "finding" "expression" (printf "%s''" $finding)) }}
{{- if not .options.default }}
{{- $_ := set $out "unpatched" "no default priority class: set config.rules.priority-class.default" }}
{{- else }}
{{- $priority := append $podSpec "priority" }}
{{- $_ := set $out "patch" (printf "variables.finding == '' || !(%s) ? [] : [\n  JSONPatch{op: 'add', path: '/spec/template/spec/priorityClassName', value: %s}\n] + (%s && type(%s) != null_type\n  ? [JSONPatch{op: 'remove', path: '/spec/template/spec/priority'}] : [])" $reachable (include "dsguard.cel.quote" .options.default) (include "dsguard.cel.present" (list "object" $priority true)) (include "dsguard.cel.select" (list "object" $priority))) }}
{{- end }}
{{- else if eq $rule.id "DS002" }}
{{- /* The API server's own DaemonSet validation refuses a pod template
whose restartPolicy is not Always before validating admission runs. */}}
{{- $field := append $podSpec "restartPolicy" }}
{{- $_ := set $out "validating" false }}
{{- $vars = append $vars (dict "name" "value" "expression" (printf "%s ? %s : null" (include "dsguard.cel.present" (list "object" $field true)) (include "dsguard.cel.select" (list "object" $field)))) }}
{{- $vars = append $vars (dict "name" "finding" "expression" "type(variables.value) == null_type || (type(variables.value) == string && variables.value == 'Always')\n  ? ''\n  : type(variables.value) != string\n  ? 'spec.template.spec.restartPolicy is not a string; it must be Always or unset'\n  : 'spec.template.spec.restartPolicy is \"' + variables.value + '\"; it must be Always or unset'") }}
{{- $_ := set $out "patch" (printf "variables.finding == '' || !(%s) ? [] : [\n  JSONPatch{op: 'add', path: '/spec/template/spec/restartPolicy', value: 'Always'}\n]" $reachable) }}
{{- else if eq $rule.id "DS003" }}
{{- /* Evaluated once for each DaemonSet of the namespace (params). */}}
{{- $vars = append $vars (dict "name" "finding" "expression" "has(params.metadata) && type(params.metadata) == map && has(params.metadata.name) && params.metadata.name != variables.objectName\n  ? 'namespace ' + variables.objectNamespace + ' is shared with DaemonSet ' + variables.objectNamespace + '/' + params.metadata.name + '; each DaemonSet needs a namespace of its own'\n  : ''") }}
{{- end }}
{{- $_ := set $out "variables" $vars }}
{{- toJson $out }}
{{- end }}

{{/* One policy or binding object (a dict: root, apiVersion, kind, name,
rule, spec), after "---". */}}
{{- define "dsguard.policy.document" -}}
---
apiVersion: {{ .apiVersion }}
kind: {{ .kind }}
metadata:
  name: {{ .name }}
  labels:
    {{- include "dsguard.labels" .root | nindent 4 }}
    dsguard.io/rule: {{ .rule.id }}
spec:
  {{- toYaml .spec | nindent 2 }}
{{- end }}
