// The facts of a store.backend postgres render (validate.mjs): a Deployment and no volume claim,
// the replica count (fixed, or the autoscaler's), the PDB, the spread over nodes, the DSN from a
// Secret in env SMTP_BRIDGE_POSTGRES_DSN, the password file and the server's CA.
//
// h: validate.mjs's helpers {expect, by_kind, selects, mounted_file, volume_sources, secret_data}.

export const DSN_ENV = "SMTP_BRIDGE_POSTGRES_DSN";
const CA_PATH = "/etc/smtp-bridge/postgres-ca/ca.crt";

function env_of(container, name) {
  return (container.env ?? []).find((e) => e.name === name);
}

// The workload itself: a Deployment sized by replicaCount or by the autoscaler, nothing on disk.
export function check_postgres_workload(objects, w, where, expected, h) {
  const { expect, by_kind } = h;
  expect(!by_kind(objects, "StatefulSet").length, where, "a StatefulSet beside the postgres Deployment");
  expect(!by_kind(objects, "PersistentVolumeClaim").length, where, "a PersistentVolumeClaim with postgres");
  expect(!(w.workload.spec.volumeClaimTemplates ?? []).length, where, "a volumeClaimTemplate with postgres");
  expect(!(w.pod.volumes ?? []).some((v) => v.persistentVolumeClaim), where, "a pod volume on a claim with postgres");
  expect(!h.mounted_file(w.pod, w.container, "/var/lib/smtp-bridge/smtp-bridge.db"), where,
         "something is mounted at /var/lib/smtp-bridge with postgres");
  const strategy = w.workload.spec.strategy ?? {};
  // A rollout starts a new pod before it stops an old one: SMTP never has no ready pod.
  expect(strategy.type === "RollingUpdate" && strategy.rollingUpdate?.maxUnavailable === 0, where,
         `Deployment strategy ${JSON.stringify(strategy)} may stop a pod before its successor is ready`);

  const hpas = by_kind(objects, "HorizontalPodAutoscaler");
  let replicas = w.workload.spec.replicas;
  if (expected.hpa) {
    if (expect(hpas.length === 1, where, `expected one HorizontalPodAutoscaler, found ${hpas.length}`)) {
      const hpa = hpas[0];
      expect(hpa.apiVersion === "autoscaling/v2", where, `HPA apiVersion ${hpa.apiVersion}`);
      const target = hpa.spec.scaleTargetRef;
      expect(target.apiVersion === "apps/v1" && target.kind === "Deployment" && target.name === w.workload.metadata.name,
             where, `HPA scales ${JSON.stringify(target)}, not the Deployment`);
      expect(hpa.spec.maxReplicas === expected.hpa.max, where, `HPA maxReplicas ${hpa.spec.maxReplicas}`);
      const cpu = (hpa.spec.metrics ?? []).find((m) => m.type === "Resource" && m.resource?.name === "cpu");
      expect(cpu?.resource.target.type === "Utilization" && cpu.resource.target.averageUtilization === expected.hpa.cpu,
             where, `HPA CPU target ${JSON.stringify(cpu?.resource?.target)}, expected ${expected.hpa.cpu}%`);
      expect(w.container.resources?.requests?.cpu, where, "CPU utilization needs a CPU request");
      // The autoscaler owns the count: a fixed one would be reset at every helm upgrade.
      expect(w.workload.spec.replicas === undefined, where, "the Deployment fixes replicas beside the autoscaler");
      replicas = hpa.spec.minReplicas;
    }
  } else {
    expect(!hpas.length, where, `${hpas.length} HorizontalPodAutoscalers without autoscaling`);
  }
  expect(replicas === expected.replicas, where, `${replicas} replicas, expected ${expected.replicas}`);

  const pdb = by_kind(objects, "PodDisruptionBudget")[0];
  if (pdb && expected.replicas > 1)
    expect(pdb.spec.maxUnavailable === 1, where, `PDB maxUnavailable ${pdb.spec.maxUnavailable}, expected 1`);

  const spread = w.pod.topologySpreadConstraints ?? [];
  if (expect(spread.length >= 1, where, "no topologySpreadConstraints")) {
    for (const c of spread)
      expect(h.selects(c.labelSelector?.matchLabels, w.labels), where, `spread over ${c.topologyKey} does not select the pods`);
    const want = expected.spread ?? { topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "ScheduleAnyway" };
    expect(spread.some((c) => c.topologyKey === want.topologyKey && c.whenUnsatisfiable === want.whenUnsatisfiable
                              && c.maxSkew === 1), where, `no spread ${JSON.stringify(want)}`);
  }
}

// The database connection: config.store, the DSN's Secret, the password file, the CA.
export function check_postgres_config(objects, w, config, text, where, expected, h) {
  const { expect } = h;
  const store = config.store ?? {};
  expect(store.backend === "postgres", where, `store.backend ${store.backend}`);
  expect(store.path === undefined, where, "store.path set with postgres");
  const pg = store.postgres ?? {};
  expect(pg.dsn_env === DSN_ENV, where, `store.postgres.dsn_env ${pg.dsn_env}, expected ${DSN_ENV}`);
  expect(pg.dsn === undefined && pg.dsn_file === undefined, where, "the config names a DSN beside dsn_env");
  for (const [key, value] of Object.entries(expected.postgresConfig ?? {}))
    expect(pg[key] === value, where, `store.postgres.${key} is ${JSON.stringify(pg[key])}, values gave ${JSON.stringify(value)}`);
  // Every pod must accept the same API key: a generated one would be one pod's own.
  expect((config.api?.keys ?? []).length > 0, where, "no api.keys with several pods");

  const env = env_of(w.container, DSN_ENV);
  const ref = env?.valueFrom?.secretKeyRef;
  if (expect(ref && env.value === undefined, where, `${DSN_ENV} is not taken from a Secret (secretKeyRef)`)) {
    expect(ref.name === expected.dsnSecret.name && ref.key === expected.dsnSecret.key, where,
           `${DSN_ENV} from ${ref.name}/${ref.key}, expected ${JSON.stringify(expected.dsnSecret)}`);
    const rendered = h.secret_data(objects, ref.name, ref.key);
    if (expected.dsn !== undefined) {
      expect(rendered === expected.dsn, where, `the chart's DSN Secret holds ${JSON.stringify(rendered)}`);
      expect(!text.includes(expected.dsn), where, "the DSN is in the ConfigMap");
    } else {
      expect(rendered === undefined && !h.by_kind(objects, "Secret").some((s) => s.metadata.name === ref.name),
             where, `the existing Secret ${ref.name} was rendered by the chart`);
    }
  }

  if (expected.passwordSecret) {
    const found = pg.password_file && h.mounted_file(w.pod, w.container, pg.password_file);
    const from = found ? h.volume_sources(found.volume, found.rest) : [];
    expect(from.length === 1 && from[0].kind === "Secret" && from[0].name === expected.passwordSecret.name
           && from[0].key === expected.passwordSecret.key, where,
           `store.postgres.password_file ${pg.password_file} is not ${JSON.stringify(expected.passwordSecret)}`);
  } else {
    expect(pg.password_file === undefined, where, "a password_file nobody asked for");
  }

  const rootcert = env_of(w.container, "PGSSLROOTCERT");
  if (expected.ca) {
    expect(rootcert?.value === CA_PATH && env_of(w.container, "PGSSLMODE")?.value === "verify-full", where,
           "a CA without PGSSLROOTCERT / PGSSLMODE verify-full");
    const found = h.mounted_file(w.pod, w.container, CA_PATH);
    const from = found ? h.volume_sources(found.volume, found.rest) : [];
    expect(from.length === 1 && from[0].kind === expected.ca.kind && from[0].name === expected.ca.name
           && from[0].key === expected.ca.key && found.mount.readOnly === true, where,
           `${CA_PATH} is not ${JSON.stringify(expected.ca)} read-only`);
  } else {
    expect(rootcert === undefined, where, "PGSSLROOTCERT without a CA");
  }
}
