// Validates the chart's rendered manifests (tests/chart/check.sh): every object against the
// Kubernetes schemas (kubernetes-models; ServiceMonitor with the prometheus-operator CRD model),
// then the facts a cluster depends on, per values case; exits 1 with every failure listed.
//
// node validate.mjs --tools DIR --chart DIR --rendered DIR [--bin SMTP_BRIDGE_BIN]
// DIR of --rendered holds CASE.yaml files (helm template output of charts/smtp-bridge/ci/CASE-values.yaml).
import { createRequire } from "node:module";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

import { known_config_keys } from "./config_keys.mjs";
import { CASES } from "./cases.mjs";
import { DSN_ENV, check_postgres_config, check_postgres_workload } from "./postgres.mjs";

const args = parse_args(process.argv.slice(2));
const require = createRequire(path.join(path.resolve(args.tools), "package.json"));
const YAML = require("yaml");

const failures = [];
let checks = 0;
function expect(condition, where, message) {
  checks += 1;
  if (!condition) failures.push(`${where}: ${message}`);
  return Boolean(condition);
}

function parse_args(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, "")] = argv[i + 1];
  for (const need of ["tools", "chart", "rendered"]) {
    if (!out[need]) {
      console.error(`validate.mjs: --${need} is required`);
      process.exit(2);
    }
  }
  return out;
}

// apiVersion + kind → the model class whose validate() checks the object's JSON schema.
function model_for(api_version, kind) {
  if (api_version === "monitoring.coreos.com/v1") {
    return require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1")[kind];
  }
  const module_path = api_version === "v1" ? "kubernetes-models/v1" : `kubernetes-models/${api_version}`;
  try {
    return require(module_path)[kind];
  } catch {
    return undefined;
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validate_object(object, where) {
  if (!expect(object && object.apiVersion && object.kind, where, "no apiVersion/kind")) return;
  const Model = model_for(object.apiVersion, object.kind);
  if (!expect(Model, where, `no schema model for ${object.apiVersion} ${object.kind}`)) return;
  try {
    new Model(object).validate();
    checks += 1;
  } catch (error) {
    failures.push(`${where}: schema: ${error.message}`);
  }
  const name = object.metadata?.name ?? "";
  const name_ok = object.kind === "Service" ? DNS_LABEL.test(name) && name.length <= 63
                                            : DNS_SUBDOMAIN.test(name) && name.length <= 253;
  expect(name_ok, where, `metadata.name '${name}' is not a valid name`);
  for (const [key, value] of Object.entries(object.metadata?.labels ?? {})) {
    expect(typeof value === "string" && value.length <= 63 && LABEL_VALUE.test(value), where,
           `label ${key}=${value} is not a valid label value`);
  }
}

function load_case(file) {
  const text = fs.readFileSync(file, "utf8");
  const objects = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) failures.push(`${file}: YAML: ${doc.errors[0].message}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

const by_kind = (objects, kind) => objects.filter((o) => o.kind === kind);
const selects = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

// ---- the pod -------------------------------------------------------------------------------

function check_security(pod, container, where) {
  const psc = pod.securityContext ?? {};
  const csc = container.securityContext ?? {};
  expect(csc.runAsNonRoot === true || psc.runAsNonRoot === true, where, "runAsNonRoot is not true");
  expect((csc.runAsUser ?? psc.runAsUser) === 10001, where, "does not run as UID 10001");
  expect(csc.readOnlyRootFilesystem === true, where, "readOnlyRootFilesystem is not true");
  expect(csc.allowPrivilegeEscalation === false, where, "allowPrivilegeEscalation is not false");
  expect((csc.capabilities?.drop ?? []).includes("ALL"), where, "capabilities.drop lacks ALL");
  expect(!(csc.capabilities?.add ?? []).length, where, "adds capabilities");
  expect(pod.automountServiceAccountToken === false, where, "mounts a service account token");
}

function container_port(container, port) {
  const found = (container.ports ?? []).find((p) => p.name === port || p.containerPort === port);
  return found?.containerPort;
}

function check_probes(container, where) {
  for (const [probe, probe_path] of [["livenessProbe", "/healthz"], ["readinessProbe", "/readyz"]]) {
    const get = container[probe]?.httpGet;
    if (!expect(get, where, `${probe} is not an httpGet`)) continue;
    expect(get.path === probe_path, where, `${probe} path ${get.path}, expected ${probe_path}`);
    expect(container_port(container, get.port) === 8081, where, `${probe} is not on the admin port 8081`);
  }
}

// The file behind an absolute path inside the container: {volume, key} or undefined.
function mounted_file(pod, container, file_path) {
  const mounts = [...(container.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
  for (const mount of mounts) {
    let rest;
    if (mount.subPath !== undefined) {
      if (file_path !== mount.mountPath) continue;
      rest = mount.subPath;
    } else if (file_path.startsWith(mount.mountPath + "/")) {
      rest = file_path.slice(mount.mountPath.length + 1);
    } else {
      continue;
    }
    const volume = (pod.volumes ?? []).find((v) => v.name === mount.name);
    return { mount, volume, rest };
  }
  return undefined;
}

// Which Secret/ConfigMap key supplies `rest` inside a volume: [{kind, name, key}] or [].
function volume_sources(volume, rest) {
  const pick = (kind, name, items) => {
    if (!items) return [{ kind, name, key: rest }];
    const item = items.find((i) => i.path === rest);
    return item ? [{ kind, name, key: item.key }] : [];
  };
  if (volume?.secret) return pick("Secret", volume.secret.secretName, volume.secret.items);
  if (volume?.configMap) return pick("ConfigMap", volume.configMap.name, volume.configMap.items);
  if (volume?.projected) {
    return volume.projected.sources.flatMap((s) =>
      s.secret ? pick("Secret", s.secret.name, s.secret.items)
               : s.configMap ? pick("ConfigMap", s.configMap.name, s.configMap.items) : []);
  }
  return [];
}

// smtp.drain_timeout of the rendered config.yaml in seconds (the bridge's default: 20).
function drain_seconds(objects) {
  const map = by_kind(objects, "ConfigMap").find((m) => m.data?.["config.yaml"]);
  const text = String((map && YAML.parse(map.data["config.yaml"])?.smtp?.drain_timeout) ?? "20s");
  const match = /^([0-9]+)(ms|s|m|h|d)$/.exec(text);
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
  return match ? Number(match[1]) * unit[match[2]] : 20;
}

// The pod's workload: sqlite (the default) one StatefulSet, postgres one Deployment (postgres.mjs).
function check_pod(objects, where, expected) {
  const postgres = expected.backend === "postgres";
  const kind = postgres ? "Deployment" : "StatefulSet";
  const sets = by_kind(objects, kind);
  if (!expect(sets.length === 1, where, `expected one ${kind}, found ${sets.length}`)) return undefined;
  expect(!by_kind(objects, postgres ? "StatefulSet" : "Deployment").length, where, `a workload beside the ${kind}`);
  const sts = sets[0];
  const pod = sts.spec.template.spec;
  const labels = sts.spec.template.metadata.labels;
  const container = pod.containers.find((c) => c.name === "smtp-bridge");
  if (!expect(container, where, "no container smtp-bridge")) return undefined;
  expect(pod.containers.length === 1, where, "more than one container");
  expect(selects(sts.spec.selector.matchLabels, labels), where, "selector does not match the pod labels");
  if (!postgres) {
    expect(sts.spec.replicas <= 1, where, `replicas ${sts.spec.replicas}: SQLite allows one writer`);
    expect(objects.some((o) => o.kind === "Service" && o.metadata.name === sts.spec.serviceName),
           where, `serviceName ${sts.spec.serviceName} is not a rendered Service`);
    expect(!by_kind(objects, "HorizontalPodAutoscaler").length, where, "an autoscaler with SQLite");
  }
  const drain = drain_seconds(objects);
  expect(pod.terminationGracePeriodSeconds >= drain + 5, where,
         `terminationGracePeriodSeconds below the ${drain} s + 5 s drain (config.smtp.drain_timeout)`);
  if (expected.grace !== undefined)
    expect(pod.terminationGracePeriodSeconds === expected.grace, where, `grace period is not ${expected.grace}`);
  check_security(pod, container, where);
  check_probes(container, where);
  expect(container.resources?.requests?.memory && container.resources?.limits?.memory, where,
         "memory requests and limits are not set");
  expect(JSON.stringify(container.args) === JSON.stringify(["--config", "/etc/smtp-bridge/config.yaml"]),
         where, `args ${JSON.stringify(container.args)}`);
  const tmp = mounted_file(pod, container, "/tmp/x");
  expect(tmp?.volume?.emptyDir, where, "/tmp is not an emptyDir");
  check_ports(container, where, expected);
  if (postgres) {
    check_postgres_workload(objects, { workload: sts, pod, container, labels }, where, expected, helpers);
  } else {
    check_store_volume(sts, pod, container, where, expected);
  }
  return { sts, pod, container, labels };
}

function check_ports(container, where, expected) {
  const ports = Object.fromEntries((container.ports ?? []).map((p) => [p.name, p.containerPort]));
  const want = { smtp: 2525, api: 8080, admin: 8081, ...(expected.tls ? { smtps: 4650 } : {}) };
  expect(JSON.stringify(Object.entries(ports).sort()) === JSON.stringify(Object.entries(want).sort()),
         where, `container ports ${JSON.stringify(ports)}, expected ${JSON.stringify(want)}`);
}

function check_store_volume(sts, pod, container, where, expected) {
  const data = mounted_file(pod, container, "/var/lib/smtp-bridge/smtp-bridge.db");
  if (!expect(data, where, "nothing is mounted at /var/lib/smtp-bridge")) return;
  expect(!data.mount.readOnly, where, "the store volume is read-only");
  if (expected.existingClaim) {
    expect(data.volume?.persistentVolumeClaim?.claimName === expected.existingClaim, where,
           `the store is not on claim ${expected.existingClaim}`);
    expect(!(sts.spec.volumeClaimTemplates ?? []).length, where, "a volumeClaimTemplate beside existingClaim");
    return;
  }
  const template = (sts.spec.volumeClaimTemplates ?? []).find((t) => t.metadata.name === data.mount.name);
  if (!expect(template && !data.volume, where, "the store is not on the StatefulSet's PersistentVolumeClaim")) return;
  expect(template.spec.accessModes.includes("ReadWriteOnce"), where, "the PVC is not ReadWriteOnce");
  expect(template.spec.resources.requests.storage === expected.storage, where,
         `PVC size ${template.spec.resources.requests.storage}, expected ${expected.storage}`);
  if (expected.storageClass)
    expect(template.spec.storageClassName === expected.storageClass, where, "storageClassName not set");
}

// ---- services, PDB, ServiceMonitor, NetworkPolicy ------------------------------------------

function service(objects, suffix) {
  return by_kind(objects, "Service").find((s) => s.metadata.name.endsWith(suffix));
}

function check_services(objects, pod, where, expected) {
  for (const svc of by_kind(objects, "Service")) {
    const at = `${where}: Service ${svc.metadata.name}`;
    expect(selects(svc.spec.selector, pod.labels), at, "selector does not match the pod");
    for (const port of svc.spec.ports)
      expect(container_port(pod.container, port.targetPort), at, `targetPort ${port.targetPort} is no container port`);
  }
  const smtp = service(objects, "-smtp");
  if (expect(smtp, where, "no SMTP Service")) {
    const ports = smtp.spec.ports.map((p) => `${p.port}->${container_port(pod.container, p.targetPort)}`).sort();
    const want = expected.tls ? ["25->2525", "465->4650"] : ["25->2525"];
    expect(JSON.stringify(ports) === JSON.stringify(want), where, `SMTP Service ports ${ports}, expected ${want}`);
    expect(smtp.spec.type === expected.smtpType, where, `SMTP Service type ${smtp.spec.type}`);
    if (expected.smtpType === "LoadBalancer")
      expect(smtp.spec.externalTrafficPolicy === "Local", where, "LoadBalancer without externalTrafficPolicy Local");
  }
  const api = service(objects, "-api");
  if (expect(api, where, "no API Service"))
    expect(api.spec.ports.length === 1 && container_port(pod.container, api.spec.ports[0].targetPort) === 8080,
           where, "the API Service does not reach 8080");
  const admin = service(objects, "-admin");
  if (expect(admin, where, "no admin Service")) {
    expect(admin.spec.clusterIP === "None" && admin.spec.type === "ClusterIP", where, "admin Service is not headless");
    expect(admin.spec.ports.every((p) => container_port(pod.container, p.targetPort) === 8081), where,
           "admin Service exposes more than the admin port");
  }
  for (const svc of by_kind(objects, "Service")) {
    if (svc.spec.type !== "ClusterIP")
      expect(!svc.spec.ports.some((p) => container_port(pod.container, p.targetPort) === 8081), where,
             `${svc.metadata.name} exposes the admin port outside the cluster`);
  }
}

function check_extras(objects, pod, where, expected) {
  const pdbs = by_kind(objects, "PodDisruptionBudget");
  if (expect(pdbs.length === 1, where, "expected one PodDisruptionBudget")) {
    expect(selects(pdbs[0].spec.selector.matchLabels, pod.labels), where, "PDB does not select the pod");
    if (expected.pdbMinAvailable !== undefined)
      expect(pdbs[0].spec.minAvailable === expected.pdbMinAvailable, where, "PDB minAvailable");
  }
  const monitors = by_kind(objects, "ServiceMonitor");
  expect(monitors.length === (expected.serviceMonitor ? 1 : 0), where, `${monitors.length} ServiceMonitors`);
  for (const monitor of monitors) {
    const admin = service(objects, "-admin");
    expect(selects(monitor.spec.selector.matchLabels, admin?.metadata.labels), where,
           "ServiceMonitor does not select the admin Service");
    expect(!selects(monitor.spec.selector.matchLabels, service(objects, "-api")?.metadata.labels), where,
           "ServiceMonitor also selects the API Service");
    const endpoint = monitor.spec.endpoints[0];
    expect(admin?.spec.ports.some((p) => p.name === endpoint.port) && endpoint.path === "/metrics", where,
           "ServiceMonitor does not scrape admin /metrics");
    if (monitor.metadata.namespace)
      expect(monitor.spec.namespaceSelector?.matchNames?.length === 1, where, "ServiceMonitor in another namespace without namespaceSelector");
  }
  const policies = by_kind(objects, "NetworkPolicy");
  expect(policies.length === (expected.networkPolicy ? 1 : 0), where, `${policies.length} NetworkPolicies`);
  for (const policy of policies) {
    expect(selects(policy.spec.podSelector.matchLabels, pod.labels), where, "NetworkPolicy does not select the pod");
    const ports = policy.spec.ingress.flatMap((rule) => rule.ports.map((p) => container_port(pod.container, p.port)));
    for (const port of [2525, 8080, 8081, ...(expected.tls ? [4650] : [])])
      expect(ports.includes(port), where, `NetworkPolicy does not admit port ${port}`);
  }
}

// ---- the config file -----------------------------------------------------------------------

function unknown_keys(value, allowed, prefix, out) {
  if (allowed === true || value === null || typeof value !== "object") return out;
  if (Array.isArray(value)) {
    value.forEach((item, i) => unknown_keys(item, allowed["[]"] ?? true, `${prefix}[${i}]`, out));
    return out;
  }
  if (allowed["*"]) return out; // free-form map (endpoint headers)
  for (const [key, child] of Object.entries(value)) {
    const full = prefix ? `${prefix}.${key}` : key;
    if (!(key in allowed)) out.push(full);
    else unknown_keys(child, allowed[key], full, out);
  }
  return out;
}

// Every *_file / cert_file / key_file / ca_file path in the config, with its dotted key.
function file_paths(value, prefix, out) {
  if (value && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      const full = Array.isArray(value) ? `${prefix}[${key}]` : prefix ? `${prefix}.${key}` : key;
      if (typeof child === "string" && /_file$/.test(key)) out.push({ key: full, path: child });
      else file_paths(child, full, out);
    }
  }
  return out;
}

// A fresh private key for a DKIM key file from an existing Secret: RSA when its key name says so.
function stand_in_key(name) {
  const type = /rsa/i.test(name) ? "rsa" : "ed25519";
  const options = type === "rsa" ? { modulusLength: 2048 } : {};
  return crypto.generateKeyPairSync(type, options).privateKey.export({ type: "pkcs8", format: "pem" }).trim();
}

function secret_data(objects, name, key) {
  const secret = by_kind(objects, "Secret").find((s) => s.metadata.name === name);
  if (!secret) return undefined;
  const value = secret.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, "base64").toString("utf8");
}

function check_config(objects, pod, where, expected) {
  const maps = by_kind(objects, "ConfigMap");
  if (!expect(maps.length === 1, where, `expected one ConfigMap, found ${maps.length}`)) return undefined;
  const config_mount = mounted_file(pod.pod, pod.container, "/etc/smtp-bridge/config.yaml");
  const sources = config_mount ? volume_sources(config_mount.volume, config_mount.rest) : [];
  expect(sources.length === 1 && sources[0].kind === "ConfigMap" && sources[0].name === maps[0].metadata.name
         && sources[0].key === "config.yaml", where, "/etc/smtp-bridge/config.yaml is not the ConfigMap's config.yaml");
  const docs = YAML.parseAllDocuments(maps[0].data?.["config.yaml"] ?? "");
  if (!expect(docs.length === 1 && !docs[0].errors.length, where, "config.yaml is not one YAML document")) return undefined;
  const config = docs[0].toJS();
  const unknown = unknown_keys(config, known_config_keys, "", []);
  expect(unknown.length === 0, where, `config keys the bridge does not know: ${unknown.join(", ")}`);
  expect(JSON.stringify(config.smtp?.listen) === '["0.0.0.0:2525"]', where, "smtp.listen is not 0.0.0.0:2525");
  expect(JSON.stringify(config.smtp?.tls_listen ?? []) === (expected.tls ? '["0.0.0.0:4650"]' : "[]"), where,
         "smtp.tls_listen does not match TLS");
  expect(config.api?.listen === "0.0.0.0:8080" && config.admin?.listen === "0.0.0.0:8081", where,
         "api/admin listeners are not 8080/8081");
  if (expected.backend === "postgres") {
    check_postgres_config(objects, { workload: pod.sts, pod: pod.pod, container: pod.container, labels: pod.labels },
                          config, maps[0].data["config.yaml"], where, expected, helpers);
  } else {
    expect(config.store?.backend === "sqlite" && config.store?.path === "/var/lib/smtp-bridge/smtp-bridge.db",
           where, "store is not sqlite on the volume");
  }
  for (const [dotted, value] of Object.entries(expected.config ?? {})) {
    const found = dotted.split(".").reduce((node, key) => node?.[key], config);
    expect(found === value, where, `config ${dotted} is ${JSON.stringify(found)}, values gave ${JSON.stringify(value)}`);
  }
  const files = file_paths(config, "", []);
  expect(files.length === expected.secretFiles, where, `${files.length} secret/TLS files, expected ${expected.secretFiles}`);
  const contents = {};
  for (const { key, path: file } of files) {
    const found = mounted_file(pod.pod, pod.container, file);
    const from = found ? volume_sources(found.volume, found.rest) : [];
    if (!expect(from.length === 1, where, `${key}: ${file} is not mounted from exactly one Secret key`)) continue;
    expect(found.mount.readOnly === true, where, `${key}: ${file} is mounted writable`);
    const rendered = secret_data(objects, from[0].name, from[0].key);
    const is_existing = (expected.existingSecrets ?? []).includes(from[0].name);
    expect(rendered !== undefined || is_existing, where,
           `${key}: Secret ${from[0].name} key ${from[0].key} is neither rendered nor a named existing Secret`);
    expect(!(rendered !== undefined && is_existing), where, `${key}: an existing Secret was rendered by the chart`);
    // An existing Secret's stand-in has the form its key needs: webhook secrets are whsec_<base64>,
    // DKIM keys a PEM private key (the bridge parses it at load), basic auth user:password.
    const placeholder = `placeholder-for-${from[0].name}-${from[0].key}`;
    contents[file] = rendered ?? (/^(routes|events\.endpoints)\[.*secret/.test(key)
      ? "whsec_" + Buffer.from(placeholder).toString("base64")
      : /^relay\.dkim\[/.test(key) ? stand_in_key(from[0].key)
      : /\.basic_auth_file$/.test(key) ? `inbound:${placeholder}` : placeholder);
  }
  for (const literal of expected.literals ?? []) {
    expect(Object.values(contents).includes(literal), where, `literal secret '${literal}' is not mounted`);
    expect(!maps[0].data["config.yaml"].includes(literal), where, `literal secret '${literal}' is in the ConfigMap`);
  }
  return { text: maps[0].data["config.yaml"], contents };
}

// The real bridge validates the rendered file; mounted paths become files in a temp folder.
// With postgres the DSN is in the environment (--check-config does not connect).
function check_with_bridge(rendered, where, expected) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "chart-config-"));
  try {
    let text = rendered.text;
    for (const prefix of ["/etc/smtp-bridge/", "/var/lib/smtp-bridge/"])
      text = text.split(prefix).join(path.join(root, prefix));
    for (const [file, content] of Object.entries(rendered.contents)) {
      const target = path.join(root, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content + "\n", { mode: 0o600 });
    }
    const config_path = path.join(root, "config.yaml");
    fs.writeFileSync(config_path, text);
    const env = { ...process.env, [DSN_ENV]: expected.dsn ?? "host=db.example dbname=mail user=bridge" };
    const run = spawnSync(args.bin, ["--check-config", "--config", config_path], { encoding: "utf8", timeout: 30000, env });
    expect(run.status === 0, where, `smtp-bridge --check-config exited ${run.status}: ${(run.stderr || "").trim()}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

// ---- per values case -----------------------------------------------------------------------

const helpers = { expect, by_kind, selects, mounted_file, volume_sources, secret_data };


function check_case(name, file) {
  const where = `${name}`;
  const expected = CASES[name];
  if (!expect(expected, where, `no expectations for values case '${name}' in validate.mjs`)) return;
  const objects = load_case(file);
  objects.forEach((o, i) => validate_object(o, `${where}: ${o?.kind ?? "?"} ${o?.metadata?.name ?? i}`));
  if (expected.kinds)
    expect(JSON.stringify(objects.map((o) => o.kind).sort()) === JSON.stringify(expected.kinds), where,
           `rendered kinds ${objects.map((o) => o.kind).sort()}`);
  const pod = check_pod(objects, where, expected);
  if (!pod) return;
  check_services(objects, pod, where, expected);
  check_extras(objects, pod, where, expected);
  const tls_secrets = by_kind(objects, "Secret").filter((s) => s.type === "kubernetes.io/tls");
  expect(tls_secrets.length === (expected.tls && !expected.existingSecrets ? 1 : 0), where,
         `${tls_secrets.length} kubernetes.io/tls Secrets rendered`);
  const rendered = check_config(objects, pod, where, expected);
  if (rendered && args.bin) check_with_bridge(rendered, where, expected);
}

// Every leaf of values.yaml is documented in the chart README's values table.
function check_readme() {
  const values = YAML.parse(fs.readFileSync(path.join(args.chart, "values.yaml"), "utf8"));
  const readme_path = path.join(args.chart, "README.md");
  if (!expect(fs.existsSync(readme_path), "README.md", "the chart has no README.md")) return;
  const readme = fs.readFileSync(readme_path, "utf8");
  const leaves = [];
  // Objects documented as a whole rather than key by key.
  const whole = ["config.smtp.limits", "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe"];
  const walk = (value, prefix) => {
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length && !whole.includes(prefix))
      for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
    else leaves.push(prefix);
  };
  walk(values, "");
  for (const leaf of leaves) expect(readme.includes("`" + leaf + "`"), "README.md", `values key ${leaf} is not in the values table`);
}

const files = fs.readdirSync(args.rendered).filter((f) => f.endsWith(".yaml")).sort();
expect(files.length >= Object.keys(CASES).length, "rendered", `only ${files.length} rendered cases`);
for (const file of files) check_case(file.replace(/\.yaml$/, ""), path.join(args.rendered, file));
check_readme();
if (!args.bin) console.log("validate.mjs: SMTP_BRIDGE_BIN not set, the rendered config was not run through --check-config");
for (const failure of failures) console.log(`FAIL ${failure}`);
console.log(`validate.mjs: ${checks} checks over ${files.length} rendered cases`);
console.log(`${checks - failures.length} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
