{{/*
Names, labels and the rendered configuration of the smtp-bridge chart. "smtp-bridge.plan" is the
single place that turns .Values.config into the bridge's config file and its secret files.
*/}}

{{- define "smtp-bridge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "smtp-bridge.fullname" -}}
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

{{- define "smtp-bridge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "smtp-bridge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "smtp-bridge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "smtp-bridge.labels" -}}
helm.sh/chart: {{ include "smtp-bridge.chart" . }}
{{ include "smtp-bridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "smtp-bridge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "smtp-bridge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "smtp-bridge.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* "sqlite" (the default: one StatefulSet pod) or "postgres" (a Deployment of any size). */}}
{{- define "smtp-bridge.backend" -}}
{{- (.Values.store | default dict).backend | default "sqlite" -}}
{{- end -}}

{{/* The Secret and key holding the PostgreSQL DSN: the operator's existingSecret, else the chart's. */}}
{{- define "smtp-bridge.postgresDsnSecret" -}}
{{- default (printf "%s-postgres" (include "smtp-bridge.fullname" .)) .Values.store.postgres.existingSecret -}}
{{- end -}}

{{- define "smtp-bridge.postgresDsnKey" -}}
{{- if .Values.store.postgres.existingSecret -}}
{{- .Values.store.postgres.existingSecretKey -}}
{{- else -}}
dsn
{{- end -}}
{{- end -}}

{{- define "smtp-bridge.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "smtp-bridge.fullname" .)) .Values.tls.existingSecret -}}
{{- end -}}

{{/*
One secret field of a config item (args: item, field, file, where, required, state). The literal
`field` goes into the chart's Secret, `existingSecret: {name, key}` is projected from that Secret;
either way the item gets `<field>_file: /etc/smtp-bridge/secrets/<file>` instead.
*/}}
{{- define "smtp-bridge.secretField" -}}
{{- $item := .item -}}
{{- $literal := get $item .field -}}
{{- $existing := get $item "existingSecret" -}}
{{- $path := printf "/etc/smtp-bridge/secrets/%s" .file -}}
{{- if and $literal $existing -}}
{{- fail (printf "%s: set either %s or existingSecret, not both" .where .field) -}}
{{- else if $literal -}}
{{- $_ := set .state.literals .file (toString $literal) -}}
{{- $_ := set $item (printf "%s_file" .field) $path -}}
{{- else if $existing -}}
{{- if not (and $existing.name $existing.key) -}}
{{- fail (printf "%s.existingSecret needs both name and key" .where) -}}
{{- end -}}
{{- $_ := set .state.existing .file (dict "name" $existing.name "key" $existing.key) -}}
{{- $_ := set $item (printf "%s_file" .field) $path -}}
{{- else if .required -}}
{{- fail (printf "%s: %s or existingSecret is required" .where .field) -}}
{{- end -}}
{{- $_ := unset $item .field -}}
{{- $_ := unset $item "existingSecret" -}}
{{- end -}}

{{/*
The plan, as JSON: {config: the bridge's config file, literals: {file: value} for the chart's
Secret, existing: {file: {name, key}} projected from existing Secrets}.
*/}}
{{- define "smtp-bridge.plan" -}}
{{- $state := dict "literals" dict "existing" dict -}}
{{- $values := deepCopy (.Values.config | default dict) -}}
{{- $config := dict -}}

{{- $smtp := $values.smtp | default dict -}}
{{- $_ := set $smtp "listen" (list "0.0.0.0:2525") -}}
{{- if .Values.tls.enabled -}}
{{- $_ := set $smtp "tls" (dict "cert_file" "/etc/smtp-bridge/tls/tls.crt" "key_file" "/etc/smtp-bridge/tls/tls.key") -}}
{{- if .Values.tls.implicit -}}
{{- $_ := set $smtp "tls_listen" (list "0.0.0.0:4650") -}}
{{- end -}}
{{- else if $smtp.require_tls -}}
{{- fail "config.smtp.require_tls needs tls.enabled (STARTTLS needs a certificate)" -}}
{{- end -}}
{{- if not $smtp.hostname -}}
{{- $_ := unset $smtp "hostname" -}}
{{- end -}}
{{- if $smtp.auth -}}
{{- range $i, $user := ($smtp.auth.users | default list) -}}
{{- include "smtp-bridge.secretField" (dict "item" $user "field" "password" "file" (printf "smtp-user-%d-password" $i) "where" (printf "config.smtp.auth.users[%d]" $i) "required" true "state" $state) -}}
{{- end -}}
{{- if and $smtp.auth.required (not $smtp.auth.users) -}}
{{- fail "config.smtp.auth.required needs at least one user in config.smtp.auth.users" -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "smtp" $smtp -}}

{{- if $values.routes -}}
{{- range $r, $route := $values.routes -}}
{{- range $e, $endpoint := ($route.endpoints | default list) -}}
{{- $where := printf "config.routes[%d].endpoints[%d]" $r $e -}}
{{- $file := printf "route-%d-endpoint-%d-secret" $r $e -}}
{{- if $endpoint.secrets -}}
{{- if or $endpoint.secret $endpoint.existingSecret -}}
{{- fail (printf "%s: set either secrets or secret/existingSecret" $where) -}}
{{- end -}}
{{- range $k, $secret := $endpoint.secrets -}}
{{- include "smtp-bridge.secretField" (dict "item" $secret "field" "secret" "file" (printf "%s-%d" $file $k) "where" (printf "%s.secrets[%d]" $where $k) "required" true "state" $state) -}}
{{- end -}}
{{- else -}}
{{- include "smtp-bridge.secretField" (dict "item" $endpoint "field" "secret" "file" $file "where" $where "required" false "state" $state) -}}
{{- end -}}
{{- /* format mailgun's signing key and format postmark's basic auth: Secrets, mounted as files. */ -}}
{{- range $field, $existing := dict "signing_key" "signingKeyExistingSecret" "basic_auth" "basicAuthExistingSecret" -}}
{{- $holder := dict $field (get $endpoint $field) "existingSecret" (get $endpoint $existing) -}}
{{- include "smtp-bridge.secretField" (dict "item" $holder "field" $field "file" (printf "route-%d-endpoint-%d-%s" $r $e (replace "_" "-" $field)) "where" (printf "%s.%s" $where $field) "required" false "state" $state) -}}
{{- $_ := unset $endpoint $field -}}
{{- $_ := unset $endpoint $existing -}}
{{- if hasKey $holder (printf "%s_file" $field) -}}
{{- $_ := set $endpoint (printf "%s_file" $field) (get $holder (printf "%s_file" $field)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "routes" $values.routes -}}
{{- end -}}

{{- if $values.delivery -}}
{{- $_ := set $config "delivery" $values.delivery -}}
{{- end -}}

{{- /* Delivery events' endpoints: their secrets as for routes' endpoints (Secrets, mounted as files). */ -}}
{{- if $values.events -}}
{{- range $e, $endpoint := ($values.events.endpoints | default list) -}}
{{- $where := printf "config.events.endpoints[%d]" $e -}}
{{- $file := printf "events-endpoint-%d-secret" $e -}}
{{- if $endpoint.secrets -}}
{{- if or $endpoint.secret $endpoint.existingSecret -}}
{{- fail (printf "%s: set either secrets or secret/existingSecret" $where) -}}
{{- end -}}
{{- range $k, $secret := $endpoint.secrets -}}
{{- include "smtp-bridge.secretField" (dict "item" $secret "field" "secret" "file" (printf "%s-%d" $file $k) "where" (printf "%s.secrets[%d]" $where $k) "required" true "state" $state) -}}
{{- end -}}
{{- else -}}
{{- include "smtp-bridge.secretField" (dict "item" $endpoint "field" "secret" "file" $file "where" $where "required" false "state" $state) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "events" $values.events -}}
{{- end -}}

{{- $store := $values.store | default dict -}}
{{- if eq (include "smtp-bridge.backend" .) "postgres" -}}
{{- $pg := .Values.store.postgres -}}
{{- if and $pg.dsn $pg.existingSecret -}}
{{- fail "store.postgres: set either dsn or existingSecret, not both" -}}
{{- else if not (or $pg.dsn $pg.existingSecret) -}}
{{- fail "store.backend postgres needs store.postgres.dsn or store.postgres.existingSecret" -}}
{{- end -}}
{{- if and $pg.existingSecret (not $pg.existingSecretKey) -}}
{{- fail "store.postgres.existingSecret needs store.postgres.existingSecretKey" -}}
{{- end -}}
{{- /* Every pod behind the API Service must accept the same key: a generated key is one pod's own. */ -}}
{{- if not ($values.api | default dict).keys -}}
{{- fail "store.backend postgres runs several pods behind one API Service: config.api.keys is required (a generated key would belong to one pod only)" -}}
{{- end -}}
{{- $postgres := $store.postgres | default dict -}}
{{- $_ := set $postgres "dsn_env" "SMTP_BRIDGE_POSTGRES_DSN" -}}
{{- if $pg.passwordSecret -}}
{{- $password := dict "existingSecret" (dict "name" $pg.passwordSecret "key" $pg.passwordSecretKey) -}}
{{- include "smtp-bridge.secretField" (dict "item" $password "field" "password" "file" "postgres-password" "where" "store.postgres.passwordSecret" "required" true "state" $state) -}}
{{- $_ := set $postgres "password_file" $password.password_file -}}
{{- end -}}
{{- $_ := set $store "backend" "postgres" -}}
{{- $_ := set $store "postgres" $postgres -}}
{{- else -}}
{{- $_ := unset $store "postgres" -}}
{{- $_ := set $store "backend" "sqlite" -}}
{{- $_ := set $store "path" "/var/lib/smtp-bridge/smtp-bridge.db" -}}
{{- end -}}
{{- $_ := set $config "store" $store -}}

{{- $api := $values.api | default dict -}}
{{- $_ := set $api "listen" "0.0.0.0:8080" -}}
{{- range $i, $key := ($api.keys | default list) -}}
{{- include "smtp-bridge.secretField" (dict "item" $key "field" "key" "file" (printf "api-key-%d" $i) "where" (printf "config.api.keys[%d]" $i) "required" true "state" $state) -}}
{{- end -}}
{{- if not $api.keys -}}
{{- $_ := unset $api "keys" -}}
{{- end -}}
{{- if $api.links -}}
{{- range $i, $secret := ($api.links.secrets | default list) -}}
{{- include "smtp-bridge.secretField" (dict "item" $secret "field" "secret" "file" (printf "api-links-secret-%d" $i) "where" (printf "config.api.links.secrets[%d]" $i) "required" true "state" $state) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $config "api" $api -}}

{{- if $values.relay -}}
{{- $relay := $values.relay -}}
{{- if $relay.auth -}}
{{- include "smtp-bridge.secretField" (dict "item" $relay.auth "field" "password" "file" "relay-password" "where" "config.relay.auth" "required" false "state" $state) -}}
{{- end -}}
{{- range $i, $key := ($relay.dkim | default list) -}}
{{- include "smtp-bridge.secretField" (dict "item" $key "field" "key" "file" (printf "relay-dkim-%d-key" $i) "where" (printf "config.relay.dkim[%d]" $i) "required" true "state" $state) -}}
{{- end -}}
{{- /* The HMAC keys of the VERP return paths (bounces): a list like api.links.secrets, as files. */ -}}
{{- range $i, $secret := ($relay.return_path_secrets | default list) -}}
{{- include "smtp-bridge.secretField" (dict "item" $secret "field" "secret" "file" (printf "relay-return-path-secret-%d" $i) "where" (printf "config.relay.return_path_secrets[%d]" $i) "required" true "state" $state) -}}
{{- end -}}
{{- $_ := set $config "relay" $relay -}}
{{- end -}}

{{- $admin := $values.admin | default dict -}}
{{- $_ := set $admin "listen" "0.0.0.0:8081" -}}
{{- $_ := set $config "admin" $admin -}}
{{- if $values.log -}}
{{- $_ := set $config "log" $values.log -}}
{{- end -}}
{{- if $values.memory -}}
{{- $_ := set $config "memory" $values.memory -}}
{{- end -}}
{{- range $section := list "dns" "authentication" "spam" "policy" -}}
{{- if hasKey $values $section -}}
{{- $_ := set $config $section (get $values $section) -}}
{{- end -}}
{{- end -}}
{{- dict "config" $config "literals" $state.literals "existing" $state.existing | toJson -}}
{{- end -}}
