{{/*
The bridge's pod, shared by the StatefulSet (store.backend sqlite: one pod, the store on a
PersistentVolumeClaim) and the Deployment (store.backend postgres: any number of pods, no volume,
the DSN from a Secret in SMTP_BRIDGE_POSTGRES_DSN). Config and secrets are mounted read-only,
probes are on the admin port, SIGTERM leaves time to drain SMTP.
*/}}
{{- define "smtp-bridge.podTemplate" -}}
{{- $plan := include "smtp-bridge.plan" . | fromJson -}}
{{- $fullname := include "smtp-bridge.fullname" . -}}
{{- $hasSecrets := or $plan.literals $plan.existing -}}
{{- $postgres := eq (include "smtp-bridge.backend" .) "postgres" -}}
{{- $pg := .Values.store.postgres | default dict -}}
metadata:
  labels:
    {{- include "smtp-bridge.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ toJson $plan.config | sha256sum }}
    {{- if $postgres }}
    checksum/secret: {{ printf "%s%s%s%s" (toJson $plan.literals) (toJson $plan.existing) (toJson .Values.tls) (toJson $pg) | sha256sum }}
    {{- else }}
    checksum/secret: {{ printf "%s%s%s" (toJson $plan.literals) (toJson $plan.existing) (toJson .Values.tls) | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "smtp-bridge.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: smtp-bridge
      image: {{ include "smtp-bridge.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command: ["/usr/local/bin/smtp-bridge"]
      args: ["--config", "/etc/smtp-bridge/config.yaml"]
      ports:
        - name: smtp
          containerPort: 2525
          protocol: TCP
        {{- if and .Values.tls.enabled .Values.tls.implicit }}
        - name: smtps
          containerPort: 4650
          protocol: TCP
        {{- end }}
        - name: api
          containerPort: 8080
          protocol: TCP
        - name: admin
          containerPort: 8081
          protocol: TCP
      {{- if or $postgres .Values.extraEnv }}
      env:
        {{- if $postgres }}
        # store.postgres.dsn_env: the DSN never enters the ConfigMap.
        - name: SMTP_BRIDGE_POSTGRES_DSN
          valueFrom:
            secretKeyRef:
              name: {{ include "smtp-bridge.postgresDsnSecret" . }}
              key: {{ include "smtp-bridge.postgresDsnKey" . }}
        {{- if or $pg.caSecret $pg.caConfigMap }}
        # libpq's defaults when the DSN names none: verify the server's certificate and name
        # against the given CA (a DSN's own sslmode / sslrootcert still wins).
        - name: PGSSLMODE
          value: verify-full
        - name: PGSSLROOTCERT
          value: /etc/smtp-bridge/postgres-ca/ca.crt
        {{- end }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: admin
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: admin
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/smtp-bridge/config.yaml
          subPath: config.yaml
          readOnly: true
        {{- if $hasSecrets }}
        - name: secrets
          mountPath: /etc/smtp-bridge/secrets
          readOnly: true
        {{- end }}
        {{- if .Values.tls.enabled }}
        - name: tls
          mountPath: /etc/smtp-bridge/tls
          readOnly: true
        {{- end }}
        {{- if $postgres }}
        {{- if or $pg.caSecret $pg.caConfigMap }}
        - name: postgres-ca
          mountPath: /etc/smtp-bridge/postgres-ca
          readOnly: true
        {{- end }}
        {{- else }}
        - name: data
          mountPath: /var/lib/smtp-bridge
        {{- end }}
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ $fullname }}
    {{- if $hasSecrets }}
    - name: secrets
      projected:
        defaultMode: 0440
        sources:
          {{- if $plan.literals }}
          - secret:
              name: {{ $fullname }}
              items:
                {{- range $file, $_ := $plan.literals }}
                - key: {{ $file }}
                  path: {{ $file }}
                {{- end }}
          {{- end }}
          {{- range $file, $ref := $plan.existing }}
          - secret:
              name: {{ $ref.name }}
              items:
                - key: {{ $ref.key }}
                  path: {{ $file }}
          {{- end }}
    {{- end }}
    {{- if .Values.tls.enabled }}
    - name: tls
      secret:
        secretName: {{ include "smtp-bridge.tlsSecretName" . }}
        defaultMode: 0440
        items:
          - key: tls.crt
            path: tls.crt
          - key: tls.key
            path: tls.key
    {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if $postgres }}
    {{- if $pg.caSecret }}
    - name: postgres-ca
      secret:
        secretName: {{ $pg.caSecret }}
        defaultMode: 0444
        items:
          - key: {{ $pg.caKey }}
            path: ca.crt
    {{- else if $pg.caConfigMap }}
    - name: postgres-ca
      configMap:
        name: {{ $pg.caConfigMap }}
        items:
          - key: {{ $pg.caKey }}
            path: ca.crt
    {{- end }}
    {{- else if not .Values.persistence.enabled }}
    - name: data
      emptyDir: {}
    {{- else if .Values.persistence.existingClaim }}
    - name: data
      persistentVolumeClaim:
        claimName: {{ .Values.persistence.existingClaim }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $postgres }}
  {{- /* Several pods: spread them over nodes so that one node's loss leaves the others serving.
  A constraint without a labelSelector gets the pod's own labels. */}}
  {{- $constraints := list }}
  {{- range (.Values.topologySpreadConstraints | default (list (dict "maxSkew" 1 "topologyKey" "kubernetes.io/hostname" "whenUnsatisfiable" "ScheduleAnyway"))) }}
  {{- $constraint := deepCopy . }}
  {{- if not $constraint.labelSelector }}
  {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "smtp-bridge.selectorLabels" $ | fromYaml)) }}
  {{- end }}
  {{- $constraints = append $constraints $constraint }}
  {{- end }}
  topologySpreadConstraints:
    {{- toYaml $constraints | nindent 4 }}
  {{- else }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
{{- end -}}
