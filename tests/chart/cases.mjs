// What validate.mjs expects of each charts/smtp-bridge/ci/CASE-values.yaml render: the backend and
// replica count, TLS, Service type, volume, how many secret files the config names and which of
// them are literal or in existing Secrets, config values that must arrive as given.

export const CASES = {
  default: { tls: false, smtpType: "ClusterIP", storage: "1Gi", grace: 30, secretFiles: 0,
             kinds: ["ConfigMap", "PodDisruptionBudget", "Service", "Service", "Service", "ServiceAccount", "StatefulSet"] },
  tls: { tls: true, smtpType: "ClusterIP", storage: "1Gi", secretFiles: 10, networkPolicy: true,
         literals: ["app-password", "sbk_shop_key_for_chart_tests", "upstream-password",
                    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
  "existing-secrets": { tls: true, smtpType: "ClusterIP", existingClaim: "smtp-bridge-store", secretFiles: 14,
                        existingSecrets: ["mx-example-com-tls", "smtp-users", "webhook-secrets", "api-keys", "upstream",
                                          "dkim-keys"],
                        literals: ["sbk_ops_literal_beside_existing", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] },
  servicemonitor: { tls: false, smtpType: "ClusterIP", storage: "5Gi", storageClass: "fast-ssd", secretFiles: 0,
                    serviceMonitor: true, networkPolicy: true, pdbMinAvailable: 1 },
  loadbalancer: { tls: true, smtpType: "LoadBalancer", storage: "1Gi", secretFiles: 2, existingSecrets: ["mx-tls"] },
  // Every issue-11 limit set through values: each reaches the config as given.
  hardening: { tls: false, smtpType: "ClusterIP", storage: "1Gi", secretFiles: 1, literals: ["not-a-real-password"],
               config: { "memory.budget": "200MiB", "admin.limits.max_body": 512, "api.limits.max_headers": 50,
                         "smtp.limits.min_data_rate": "2KiB", "smtp.auth.max_failures": 5,
                         "delivery.max_render_attempts": 5, "dns.budget": "3s",
                         "authentication.enabled": true, "spam.rspamd.failure": "defer",
                         "policy.temperror": "defer" } },
  // Issue 15: links, the reply switch, the formats' credentials from literal and existing Secrets.
  payload: { tls: false, smtpType: "ClusterIP", storage: "1Gi", secretFiles: 5,
             existingSecrets: ["link-keys", "postmark-inbound"],
             literals: ["sbk_ops_key_for_payload_chart_tests", "links-literal-secret-for-chart-tests",
                        "mailgun-signing-key-for-chart-tests"],
             config: { "routes.0.attachments": "url", "routes.0.extract_reply": false,
                       "routes.0.endpoints.1.format": "postmark", "api.links.ttl": "12h",
                       "api.links.base_url": "https://mail-bridge.example.com" } },
  // Issue 14, bounces: the return path's domain as given, its HMAC keys (a literal, an existing
  // Secret's key) mounted as files and never in the ConfigMap.
  bounces: { tls: false, smtpType: "ClusterIP", storage: "1Gi", secretFiles: 2, existingSecrets: ["return-path-keys"],
             literals: ["return-path-literal-secret-for-chart-tests"],
             config: { "relay.return_path_domain": "bounces.example.com", "relay.upstream.host": "smtp.provider.example" } },
  // Several replicas on PostgreSQL: 3 pods (the autoscaler's minimum), HPA, PDB, the default
  // spread over nodes, the literal DSN in the chart's Secret.
  postgres: { backend: "postgres", tls: false, smtpType: "ClusterIP", secretFiles: 1, replicas: 3,
              hpa: { max: 6, cpu: 60 }, literals: ["sbk_shop_key_for_postgres_chart_tests"],
              dsnSecret: { name: "smtp-bridge-postgres", key: "dsn" },
              dsn: "host=mail-db-rw.db.svc dbname=mail user=bridge password=placeholder-db-password sslmode=require",
              postgresConfig: { pool_size: 6, statement_timeout: "15s", connect_timeout: "5s" },
              config: { "delivery.lease": "2m", "store.retention.delivered": "12h" },
              kinds: ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Secret", "Secret",
                      "Service", "Service", "Service", "ServiceAccount"] },
  // CloudNativePG: DSN and password from its <cluster>-app Secret, its CA, 2 fixed replicas.
  "postgres-existing": { backend: "postgres", tls: false, smtpType: "ClusterIP", secretFiles: 2, replicas: 2,
                         existingSecrets: ["mail-db-app", "api-keys"],
                         dsnSecret: { name: "mail-db-app", key: "uri" },
                         passwordSecret: { name: "mail-db-app", key: "password" },
                         ca: { kind: "Secret", name: "mail-db-ca", key: "ca.crt" },
                         spread: { topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule" },
                         kinds: ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "Service", "Service",
                                 "ServiceAccount"] },
};
