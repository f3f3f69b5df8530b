/**
 * The deploy artifacts are real: the alerts and the dashboard ask for metrics
 * a running proxy exposes, with label values it can produce; promtool accepts
 * the scrape, the rules and every dashboard expression; the configs in
 * deploy/ load; the Kubernetes and compose YAML parse and have what an
 * operator relies on; the Dockerfile and the systemd unit have their parts.
 *
 * promtool is required (Debian: `apt-get install prometheus`; .ci/check-deploy
 * installs it). systemd-analyze, nft and `docker build` are checked by
 * .ci/check-deploy, not here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

import { HOLD_ENDS } from '../../src/hold/registry.js';
import { ATTEMPT_OUTCOMES } from '../../src/upstream/errors.js';
import { APPROVAL_EVENT_LABELS } from '../../src/approval/events.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';
import type { Action } from '../../src/pipeline/types.js';
import { REASONS } from '../../src/pipeline/types.js';
import { QUERY_MODES } from '../../src/telemetry/metrics.js';
import { DROP_REASONS } from '../../src/receive/types.js';
import { SHED_REASONS } from '../../src/http/index.js';
import type { Zone } from '../helpers/authority.js';
import { startApprovalProxy, type ApprovalProxy } from '../helpers/approval-proxy.js';
import { waitFor } from '../helpers/wait-for.js';
import { baseName, parseExposition, selectors, strayValue, type Exposition, type Selector } from './promql.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const at = (...parts: string[]): string => join(ROOT, ...parts);
const read = (...parts: string[]): string => readFileSync(at(...parts), 'utf8');

// ---------------------------------------------------------------- helpers

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `get(x, 'spec.template.spec.containers.0.ports')`: undefined when any step is missing. */
function get(v: unknown, path: string): unknown {
  let cur = v;
  for (const key of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (isObj(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
/** The config text a ConfigMap carries under `key` (a key with a dot, which get() cannot name). */
const dataKey = (cm: unknown, key: string): string => str((get(cm, 'data') as Obj | undefined)?.[key]);

/** promtool, or a failure that says how to get it. */
function promtool(args: readonly string[], input?: string): { status: number; output: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', cwd: ROOT, timeout: 30_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error('promtool is not installed: `apt-get install prometheus` (Debian\'s package has promtool), or run .ci/check-deploy');
  }
  if (r.error) throw r.error;
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Every YAML file below a folder, recursively. */
function yamlFiles(dir: string): string[] {
  return readdirSync(at(dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(dir, f))
    .sort();
}

/** Every document of a YAML file; fails on any parse error or warning. */
function documents(file: string): unknown[] {
  const docs = parseAllDocuments(read(file), { prettyErrors: true });
  const all = Array.isArray(docs) ? docs : [docs];
  for (const d of all) {
    expect([...d.errors, ...d.warnings].map((e) => `${file}: ${e.message}`)).toEqual([]);
  }
  return all.map((d) => d.toJS() as unknown).filter((d) => d !== null && d !== undefined);
}

/** A config from deploy/ through the real loader; "system" reads a fixed resolv.conf. */
function loadDeployConfig(text: string, file: string): Config {
  const dir = mkdtempSync(join(tmpdir(), 'intentdns-deploy-'));
  try {
    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, 'nameserver 192.0.2.53\n');
    return parseConfig(text, file, { resolvConf });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- what the artifacts use

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly annotations?: Record<string, string>;
}

const rules: Rule[] = list(get(parseYaml(read('deploy/prometheus/alerts.yml')), 'groups')).flatMap((g) => list(get(g, 'rules')) as Rule[]);
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));

const dashboard = JSON.parse(read('deploy/grafana/intentdns.json')) as Obj;

/** Every `expr` in the dashboard JSON, with its panel title. */
function dashboardExprs(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (v: unknown, where: string): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x, where));
    else if (isObj(v)) {
      const title = typeof v.title === 'string' ? v.title : where;
      for (const [k, x] of Object.entries(v)) {
        if (k === 'expr' && typeof x === 'string') out.push({ where: title, expr: x });
        else walk(x, title);
      }
    }
  };
  walk(dashboard, 'dashboard');
  return out;
}

/** Grafana's variables replaced by values PromQL accepts. */
function grafanaToPromql(expr: string): string {
  return expr.replaceAll('$__rate_interval', '1m').replaceAll('$__interval', '1m').replace(/\$\{?(\w+)\}?/g, '.*');
}

/** Metric names the dashboard's variables query (`label_values(metric, label)`). */
function variableMetrics(): string[] {
  return list(get(dashboard, 'templating.list')).flatMap((v) => {
    const m = /label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,/.exec(str(get(v, 'definition')));
    return m ? [m[1]!] : [];
  });
}

interface Use {
  readonly where: string;
  readonly selector: Selector;
}

function uses(): Use[] {
  const fromRules = rules.flatMap((r) => selectors(r.expr).map((selector) => ({ where: `alerts.yml ${r.alert ?? r.record}`, selector })));
  const fromPanels = dashboardExprs().flatMap((e) => selectors(grafanaToPromql(e.expr)).map((selector) => ({ where: `dashboard "${e.where}"`, selector })));
  const fromVariables = variableMetrics().map((name) => ({ where: 'dashboard variables', selector: { name, matchers: [] } }));
  return [...fromRules, ...fromPanels, ...fromVariables];
}

/** Series Prometheus makes itself, not the proxy (IntentdnsDown uses `up`). */
const PROMETHEUS_MADE = new Set(['up']);

const ACTIONS: readonly Action[] = ['forward', 'sinkhole', 'hold', 'refuse', 'drop'];
/** The closed label sets, from the code that produces them. */
const CLOSED: Record<string, Record<string, readonly string[]>> = {
  intentdns_queries_total: { action: ACTIONS, reason: REASONS, mode: QUERY_MODES },
  intentdns_query_duration_seconds: { action: ACTIONS },
  intentdns_upstream_requests_total: { outcome: ATTEMPT_OUTCOMES },
  intentdns_holds_total: { outcome: HOLD_ENDS },
  intentdns_approval_events_total: { type: APPROVAL_EVENT_LABELS },
  // src/config/reload.ts counts every reload under one of these two.
  intentdns_config_reloads_total: { result: ['success', 'failure'] },
  intentdns_dropped_packets_total: { reason: DROP_REASONS, transport: ['udp', 'tcp'] },
  intentdns_malformed_packets_total: { transport: ['udp', 'tcp'] },
  intentdns_http_connections_shed_total: { reason: SHED_REASONS },
};
/** Labels Prometheus attaches to every scraped series, and the per_agent label. */
const TARGET_LABELS = new Set(['instance', 'job']);
const OPTIONAL_LABELS: Record<string, readonly string[]> = { intentdns_queries_total: ['agent'] };

// ---------------------------------------------------------------- a live proxy

const ZONE: Zone = {
  'github.com': [{ type: 'A', data: '140.82.121.3', ttl: 300 }],
  'gist.github.com': [{ type: 'A', data: '140.82.121.4', ttl: 300 }],
  'api.example.com': [{ type: 'A', data: '192.0.2.10', ttl: 300 }],
};

let ap: ApprovalProxy | null = null;
let scrape = '';
let exposition: Exposition;

beforeAll(async () => {
  // A proxy with an approval service, so the approval series exist, and a
  // query of every kind, so the labelled series have samples.
  ap = await startApprovalProxy({
    zone: ZONE,
    http: true,
    role: '{ allow: [github.com], deny: [gist.github.com], qtypes: [A, AAAA], unlisted: hold }',
    approval: { hold_timeout: '200ms' },
  });
  const { proxy, service } = ap;
  service.send('command.approved', {
    id: 'cmd_1', agent: 'ci-1', command: 'curl https://api.example.com/', approved_by: 'alice', approved_at: new Date().toISOString(),
  });
  await waitFor(async () => (await proxy.query('api.example.com')).packet.rcode === 'NOERROR', { what: 'grant applied' });
  await proxy.query('github.com');
  await proxy.query('github.com'); // a cache hit
  await proxy.query('gist.github.com');
  await proxy.query('github.com', 'TXT');
  await proxy.query('held.example.org', 'A', { timeoutMs: 3000 });
  await proxy.query('github.com', 'A', { from: '127.0.0.9' });
  await proxy.send(Buffer.from([0x12, 0x34, 0x01]), { timeoutMs: 300 });
  const address = proxy.server.httpAddress();
  if (!address) throw new Error('the proxy has no HTTP listener');
  const res = await fetch(`http://127.0.0.1:${address.port}/metrics`);
  expect(res.status).toBe(200);
  scrape = await res.text();
  exposition = parseExposition(scrape);
}, 20_000);

afterAll(async () => {
  await ap?.close();
});

describe('metrics of a live scrape', () => {
  it('pass promtool check metrics', () => {
    const r = promtool(['check', 'metrics'], scrape);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('include every metric the alerts and the dashboard use (histogram series map to their base metric)', () => {
    const missing = uses()
      .filter((u) => !recorded.has(u.selector.name) && !PROMETHEUS_MADE.has(u.selector.name) && !exposition.names.has(u.selector.name))
      .map((u) => `${u.where}: ${u.selector.name}`);
    expect(missing).toEqual([]);
    // The parser found what it should: the spec's metrics are all in use.
    const used = new Set(uses().map((u) => baseName(u.selector.name, exposition)));
    for (const name of [
      'intentdns_queries_total', 'intentdns_query_duration_seconds', 'intentdns_upstream_requests_total', 'intentdns_upstream_duration_seconds',
      'intentdns_cache_hits_total', 'intentdns_cache_misses_total', 'intentdns_cache_entries', 'intentdns_holds_pending', 'intentdns_holds_total',
      'intentdns_hold_wait_seconds', 'intentdns_grants_active', 'intentdns_grants_total', 'intentdns_approval_link_up',
      'intentdns_approval_events_total', 'intentdns_config_reloads_total', 'intentdns_config_last_reload_success_timestamp_seconds',
      'intentdns_malformed_packets_total', 'intentdns_dropped_packets_total', 'intentdns_build_info',
    ]) expect(used, name).toContain(name);
  });

  it('match only label names the metric has, and label values the proxy can produce', () => {
    const problems: string[] = [];
    for (const { where, selector } of uses()) {
      if (recorded.has(selector.name) || PROMETHEUS_MADE.has(selector.name)) continue;
      const base = baseName(selector.name, exposition);
      const seen = exposition.labels.get(selector.name);
      for (const m of selector.matchers) {
        if (m.value.includes('$')) continue;
        const known = TARGET_LABELS.has(m.label) || (OPTIONAL_LABELS[base] ?? []).includes(m.label) || seen?.has(m.label) || (m.label === 'le' && selector.name.endsWith('_bucket'));
        // Without samples (a labelled metric nothing has touched) only the closed sets can tell.
        if (seen !== undefined && !known) problems.push(`${where}: ${selector.name} has no label ${m.label}`);
        const allowed = CLOSED[base]?.[m.label];
        if (allowed) {
          const stray = strayValue(m, allowed);
          if (stray !== null) problems.push(`${where}: ${selector.name}{${m.label}${m.op}"${m.value}"}: "${stray}" is not one of ${allowed.join(', ')}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('the closed label values used are the ones a scrape shows', () => {
    // Checks the CLOSED table itself against the running code, where the series exist.
    for (const [metric, labels] of Object.entries(CLOSED)) {
      for (const [label, allowed] of Object.entries(labels)) {
        for (const v of exposition.values.get(`${metric}\0${label}`) ?? []) expect(allowed, `${metric}{${label}}`).toContain(v);
      }
    }
    expect(exposition.values.get('intentdns_holds_total\0outcome')).toBeDefined();
    expect(exposition.values.get('intentdns_approval_events_total\0type')).toBeDefined();
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('passes its unit tests (promtool test rules)', () => {
    const r = promtool(['test', 'rules', 'deploy/prometheus/alerts_test.yml']);
    expect(r.output).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('has the alerts the issue asks for, each with a severity and a runbook URL from one base to its section in docs/operations.md', () => {
    const alerts = rules.filter((r) => r.alert).map((r) => r.alert!);
    for (const name of [
      'IntentdnsApprovalLinkDown', 'IntentdnsUpstreamFailures', 'IntentdnsConfigReloadFailed',
      'IntentdnsHoldsNearCapacity', 'IntentdnsBlockedQueriesSpike', 'IntentdnsAgentManyNewNames',
    ]) expect(alerts).toContain(name);
    const anchors = new Set(
      read('docs/operations.md').split('\n').filter((l) => /^#{1,6} /.test(l))
        .map((l) => l.replace(/^#+ /, '').trim().toLowerCase().replace(/[^\w\- ]/g, '').replace(/ /g, '-')),
    );
    for (const r of rules.filter((x) => x.alert)) {
      expect(get(r, 'labels.severity'), r.alert).toMatch(/^(critical|warning|info)$/);
      // One base for every link (the external label runbook_base), then the alert's section.
      const runbook = r.annotations?.runbook_url ?? '';
      expect(runbook, r.alert).toBe(`{{ with $externalLabels.runbook_base }}{{ . }}/{{ end }}docs/operations.md#${runbook.split('#')[1]}`);
      expect(anchors, `${r.alert}: ${runbook}`).toContain(runbook.split('#')[1]);
    }
  });
});

describe('deploy/grafana/intentdns.json', () => {
  it('every panel query is valid PromQL (promtool check rules on the expressions, Grafana variables filled in)', () => {
    const exprs = dashboardExprs();
    expect(exprs.length).toBeGreaterThan(20);
    const dir = mkdtempSync(join(tmpdir(), 'intentdns-dashboard-'));
    try {
      const file = join(dir, 'dashboard-rules.yml');
      const group = { groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: grafanaToPromql(e.expr) })) }] };
      writeFileSync(file, JSON.stringify(group));
      const r = promtool(['check', 'rules', file]);
      expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has the panels the issue asks for, with unique ids, on the datasource variable', () => {
    const panels = list(dashboard.panels).filter((p) => get(p, 'type') !== 'row');
    const titles = panels.map((p) => str(get(p, 'title')));
    for (const t of [
      'Queries by action', 'Queries by reason', 'Queries by role', 'Query latency p50 / p99 by action', 'Cache hit ratio',
      'Holds pending', 'Hold outcomes', 'Grants', 'Upstream attempts by outcome', 'Upstream latency p50 / p99', 'Approval link', 'Config reloads',
    ]) expect(titles).toContain(t);
    const ids = list(dashboard.panels).map((p) => get(p, 'id'));
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(get(p, 'datasource.uid'), str(get(p, 'title'))).toBe('${datasource}');
      for (const t of list(get(p, 'targets'))) expect(get(t, 'datasource.uid')).toBe('${datasource}');
      const pos = get(p, 'gridPos');
      expect(Number(get(pos, 'x')) + Number(get(pos, 'w'))).toBeLessThanOrEqual(24);
    }
    expect(dashboard.uid).toBe('intentdns');
  });
});

describe('configs in deploy/ load with the real loader', () => {
  const configMap = (): string => {
    const cm = documents('deploy/kubernetes/configmap.yaml').find((d) => get(d, 'kind') === 'ConfigMap');
    return dataKey(cm, 'intentdns.yaml');
  };

  it('the image config listens on 0.0.0.0:53 and HTTP on 0.0.0.0:9153, which the HEALTHCHECK asks', () => {
    const config = loadDeployConfig(read('deploy/docker/intentdns.yaml'), '/etc/intentdns/intentdns.yaml');
    expect(config.listen.dns.map((d) => d.text)).toEqual(['0.0.0.0:53']);
    expect(config.listen.http?.text).toBe('0.0.0.0:9153');
  });

  it('the compose config lists the traffic generators as clients and the approval service by its compose name', () => {
    const config = loadDeployConfig(read('deploy/compose/intentdns/intentdns.yaml'), '/etc/intentdns/intentdns.yaml');
    expect(config.listen.http?.port).toBe(9153);
    expect(config.approval?.url).toBe('http://approval:8080');
    const compose = parseYaml(read('deploy/compose/compose.yaml')) as Obj;
    for (const service of ['agent-coding', 'agent-analytics']) {
      const ip = str(get(compose, `services.${service}.networks.agents.ipv4_address`));
      expect(config.clients.some((c) => JSON.stringify(c).includes(ip)), `${service} ${ip}`).toBe(true);
    }
  });

  it('the Kubernetes ConfigMap holds a valid config whose token files are in the Secret mount', () => {
    const config = loadDeployConfig(configMap(), '/etc/intentdns/intentdns.yaml');
    expect(config.listen.dns.map((d) => d.port)).toEqual([53]);
    expect(config.listen.http?.port).toBe(9153);
    expect(config.approval?.tokenFile).toMatch(/^\/run\/secrets\/intentdns\//);
    expect(config.admin.tokenFile).toMatch(/^\/run\/secrets\/intentdns\//);
    // The alert's hard-coded capacity matches.
    expect(config.approval?.maxPendingHolds).toBe(1000);
  });
});

describe('deploy/kubernetes', () => {
  const files = yamlFiles('deploy/kubernetes');
  const all = files.flatMap((f) => documents(f).map((d) => ({ file: f, obj: d as Obj })));
  // What `kubectl apply -k` installs: the files kustomization.yaml lists (the others are to copy or add).
  const listed = new Set(list(all.find((o) => o.obj.kind === 'Kustomization')?.obj.resources).map(str));
  const objects = all.filter((o) => o.obj.kind === 'Kustomization' || listed.has(o.file.split('/').pop()!));
  const byKind = (kind: string): Obj[] => objects.filter((o) => o.obj.kind === kind).map((o) => o.obj);
  const inFile = (name: string): Obj[] => all.filter((o) => o.file.endsWith(`/${name}`)).map((o) => o.obj);
  const one = (kind: string): Obj => {
    const found = byKind(kind);
    expect(found, kind).toHaveLength(1);
    return found[0]!;
  };

  it('every file parses, every object has apiVersion, kind and a name', () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const { file, obj } of all) {
      expect(str(obj.apiVersion), file).not.toBe('');
      expect(str(obj.kind), file).not.toBe('');
      if (obj.kind !== 'Kustomization') expect(str(get(obj, 'metadata.name')), file).not.toBe('');
    }
    for (const kind of ['Namespace', 'ConfigMap', 'Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'HorizontalPodAutoscaler', 'Kustomization']) {
      expect(byKind(kind).length, kind).toBeGreaterThan(0);
    }
  });

  it('kustomization.yaml lists files that exist', () => {
    const k = one('Kustomization');
    const resources = list(k.resources).map(str);
    expect(resources).toEqual(expect.arrayContaining(['deployment.yaml', 'service.yaml', 'configmap.yaml', 'poddisruptionbudget.yaml', 'networkpolicy.yaml']));
    for (const r of resources) expect(existsSync(at('deploy/kubernetes', r)), r).toBe(true);
  });

  const deployment = (): Obj => one('Deployment');
  const pod = (): Obj => get(deployment(), 'spec.template.spec') as Obj;
  const container = (): Obj => list(get(pod(), 'containers')).find((c) => get(c, 'name') === 'intentdns') as Obj;
  const podLabels = (): Obj => get(deployment(), 'spec.template.metadata.labels') as Obj;
  const selects = (selector: unknown): boolean =>
    Object.entries((get(selector, 'matchLabels') ?? {}) as Obj).every(([k, v]) => podLabels()[k] === v) && Object.keys((get(selector, 'matchLabels') ?? {}) as Obj).length > 0;

  it('Deployment: two or more replicas (the autoscaler\'s floor; no replicas of its own to fight it), spread across nodes, a selector matching its pods', () => {
    const hpa = one('HorizontalPodAutoscaler');
    expect(get(hpa, 'spec.scaleTargetRef')).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: get(deployment(), 'metadata.name') });
    expect(Number(get(hpa, 'spec.minReplicas'))).toBeGreaterThanOrEqual(2);
    expect(get(deployment(), 'spec.replicas')).toBeUndefined();
    expect(selects(get(deployment(), 'spec.selector'))).toBe(true);
    const spread = list(get(pod(), 'topologySpreadConstraints')).some((t) => get(t, 'topologyKey') === 'kubernetes.io/hostname' && selects(get(t, 'labelSelector')));
    const anti = list(get(pod(), 'affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution'))
      .concat(list(get(pod(), 'affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution')).map((p) => get(p, 'podAffinityTerm')))
      .some((t) => get(t, 'topologyKey') === 'kubernetes.io/hostname');
    expect(spread || anti).toBe(true);
  });

  it('Deployment: UDP and TCP 53 and the HTTP port; readiness on /readyz and liveness on /healthz of that port', () => {
    const ports = list(get(container(), 'ports'));
    const port = (number: number, protocol: string) => ports.find((p) => get(p, 'containerPort') === number && (get(p, 'protocol') ?? 'TCP') === protocol);
    expect(port(53, 'UDP')).toBeDefined();
    expect(port(53, 'TCP')).toBeDefined();
    const http = port(9153, 'TCP');
    expect(http).toBeDefined();
    for (const [probe, path] of [['readinessProbe', '/readyz'], ['livenessProbe', '/healthz']] as const) {
      expect(get(container(), `${probe}.httpGet.path`), probe).toBe(path);
      const p = get(container(), `${probe}.httpGet.port`);
      expect([get(http, 'name'), 9153], probe).toContain(p);
    }
  });

  it('Deployment: non-root, no privilege escalation, only NET_BIND_SERVICE, read-only root; port 53 through the safe sysctl', () => {
    expect(get(pod(), 'securityContext.runAsNonRoot')).toBe(true);
    expect(Number(get(pod(), 'securityContext.runAsUser'))).toBeGreaterThan(0);
    expect(get(container(), 'securityContext.allowPrivilegeEscalation')).toBe(false);
    expect(get(container(), 'securityContext.readOnlyRootFilesystem')).toBe(true);
    expect(get(container(), 'securityContext.capabilities.drop')).toEqual(['ALL']);
    expect(get(container(), 'securityContext.capabilities.add')).toEqual(['NET_BIND_SERVICE']);
    expect(list(get(pod(), 'securityContext.sysctls'))).toContainEqual({ name: 'net.ipv4.ip_unprivileged_port_start', value: '53' });
  });

  it('Deployment: the config comes from the ConfigMap as a directory (no subPath, so updates arrive) and the tokens from a Secret', () => {
    const volumes = list(get(pod(), 'volumes'));
    const mounts = list(get(container(), 'volumeMounts'));
    const mountOf = (pred: (v: unknown) => boolean) => {
      const volume = volumes.find(pred);
      expect(volume).toBeDefined();
      const mount = mounts.find((m) => get(m, 'name') === get(volume, 'name'));
      expect(mount).toBeDefined();
      return { volume, mount };
    };
    const cm = one('ConfigMap');
    const config = mountOf((v) => get(v, 'configMap.name') === get(cm, 'metadata.name'));
    expect(get(config.mount, 'subPath')).toBeUndefined();
    const args = list(get(container(), 'args')).map(str);
    const configPath = args[args.indexOf('--config') + 1] ?? '';
    expect(dirname(configPath)).toBe(get(config.mount, 'mountPath'));
    expect(Object.keys(get(cm, 'data') as Obj)).toContain(configPath.split('/').pop());

    const secret = mountOf((v) => typeof get(v, 'secret.secretName') === 'string');
    expect(get(secret.mount, 'readOnly')).toBe(true);
    const secretDir = str(get(secret.mount, 'mountPath'));
    const paths = list(get(secret.volume, 'secret.items')).map((i) => `${secretDir}/${str(get(i, 'path'))}`);
    const tokenFiles = [...dataKey(cm, configPath.split('/').pop() ?? '').matchAll(/^\s*token_file: (\S+)/gm)].map((m) => m[1]);
    expect(tokenFiles.length).toBeGreaterThan(0);
    for (const tokenFile of tokenFiles) expect(paths).toContain(tokenFile);
  });

  it('Service: UDP and TCP 53 to the container ports, selecting the pods', () => {
    const svc = one('Service');
    expect(selects({ matchLabels: get(svc, 'spec.selector') })).toBe(true);
    const ports = list(get(svc, 'spec.ports'));
    const names = list(get(container(), 'ports')).map((p) => get(p, 'name'));
    for (const protocol of ['UDP', 'TCP']) {
      const p = ports.find((x) => get(x, 'port') === 53 && get(x, 'protocol') === protocol);
      expect(p, protocol).toBeDefined();
      expect([...names, 53]).toContain(get(p, 'targetPort'));
    }
  });

  it('HorizontalPodAutoscaler: on CPU utilisation, which needs a CPU request on the container', () => {
    const metrics = list(get(one('HorizontalPodAutoscaler'), 'spec.metrics'));
    expect(metrics).toContainEqual(expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu', target: expect.objectContaining({ type: 'Utilization' }) }) }));
    expect(get(container(), 'resources.requests.cpu')).toBeDefined();
  });

  it('Deployment: whole CPUs, requests equal to limits (Guaranteed), and the config\'s workers: auto, which reads that limit', () => {
    const requests = get(container(), 'resources.requests') as Obj;
    const limits = get(container(), 'resources.limits') as Obj;
    expect(str(requests.cpu)).toMatch(/^[1-9]\d*$/);
    expect(limits.cpu).toBe(requests.cpu);
    expect(limits.memory).toBe(requests.memory);
    const cm = byKind('ConfigMap')[0]!;
    expect(parseYaml(dataKey(cm, 'intentdns.yaml')).listen.workers).toBe('auto');
  });

  it('Service: a ClusterIP keeps pods\' source addresses to a replica on any node (internalTrafficPolicy Cluster)', () => {
    expect(get(one('Service'), 'spec.type')).toBe('ClusterIP');
    expect(get(one('Service'), 'spec.internalTrafficPolicy') ?? 'Cluster').toBe('Cluster');
  });

  it('agents-outside-cluster.yaml: a LoadBalancer with externalTrafficPolicy Local on UDP and TCP 53, and an ingress rule for the agents\' subnet', () => {
    const objs = inFile('agents-outside-cluster.yaml');
    const svc = objs.find((o) => o.kind === 'Service')!;
    expect(get(svc, 'spec.type')).toBe('LoadBalancer');
    expect(get(svc, 'spec.externalTrafficPolicy')).toBe('Local');
    expect(selects({ matchLabels: get(svc, 'spec.selector') })).toBe(true);
    const protocols = list(get(svc, 'spec.ports')).filter((p) => get(p, 'port') === 53).map((p) => get(p, 'protocol'));
    expect(protocols).toEqual(expect.arrayContaining(['UDP', 'TCP']));
    const np = objs.find((o) => o.kind === 'NetworkPolicy')!;
    expect(selects(get(np, 'spec.podSelector'))).toBe(true);
    const rule = list(get(np, 'spec.ingress'))[0];
    expect(list(get(rule, 'from')).map((p) => get(p, 'ipBlock.cidr'))).toEqual([expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/)]);
    expect(list(get(rule, 'ports')).map((p) => `${get(p, 'port')}/${get(p, 'protocol')}`).sort()).toEqual(['53/TCP', '53/UDP']);
  });

  it('PodDisruptionBudget keeps a replica up and selects the pods', () => {
    const pdb = one('PodDisruptionBudget');
    expect(selects(get(pdb, 'spec.selector'))).toBe(true);
    const min = get(pdb, 'spec.minAvailable');
    const max = get(pdb, 'spec.maxUnavailable');
    expect(Number(min ?? 0) >= 1 || (max !== undefined && Number(max) < Number(get(one('HorizontalPodAutoscaler'), 'spec.minReplicas')))).toBe(true);
  });

  it('NetworkPolicy admits DNS only from selected (agent) namespaces', () => {
    const np = byKind('NetworkPolicy').find((n) => get(n, 'metadata.namespace') === 'intentdns')!;
    expect(selects(get(np, 'spec.podSelector'))).toBe(true);
    expect(list(get(np, 'spec.policyTypes'))).toContain('Ingress');
    const ingress = list(get(np, 'spec.ingress'));
    const dns = ingress.filter((r) => list(get(r, 'ports')).some((p) => get(p, 'port') === 53));
    expect(dns.length).toBeGreaterThan(0);
    for (const rule of dns) {
      const from = list(get(rule, 'from'));
      expect(from.length).toBeGreaterThan(0);
      for (const peer of from) {
        expect(get(peer, 'namespaceSelector.matchLabels'), 'a namespaceSelector with labels').toBeDefined();
        expect(get(peer, 'ipBlock')).toBeUndefined();
      }
      const protocols = list(get(rule, 'ports')).map((p) => get(p, 'protocol'));
      expect(protocols).toEqual(expect.arrayContaining(['UDP', 'TCP']));
    }
  });
});

describe('deploy/compose', () => {
  const files = yamlFiles('deploy/compose');
  const compose = (): Obj => parseYaml(read('deploy/compose/compose.yaml')) as Obj;
  const services = (): Obj => get(compose(), 'services') as Obj;

  it('every YAML file parses', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect(documents(f).length, f).toBeGreaterThan(0);
  });

  it('says it is for Docker Compose v2 (`docker compose`)', () => {
    expect(read('deploy/compose/compose.yaml')).toMatch(/Docker Compose v2 \(the `docker compose` plugin/);
  });

  it('runs intentdns (built from the Dockerfile), Prometheus and Grafana; every bind mount exists', () => {
    expect(Object.keys(services())).toEqual(expect.arrayContaining(['intentdns', 'prometheus', 'grafana']));
    expect(get(services(), 'intentdns.build.context')).toBe('../..');
    expect(existsSync(at('deploy/compose', str(get(services(), 'intentdns.build.context')), str(get(services(), 'intentdns.build.dockerfile'))))).toBe(true);
    for (const [name, svc] of Object.entries(services())) {
      for (const v of list(get(svc, 'volumes')).map(str)) {
        const source = v.split(':')[0]!;
        if (!source.startsWith('.')) continue;
        expect(existsSync(at('deploy/compose', source)), `${name}: ${v}`).toBe(true);
      }
    }
  });

  it('Prometheus scrapes intentdns and loads the alerts; Grafana gets the datasource and the dashboard', () => {
    const prom = parseYaml(read('deploy/compose/prometheus/prometheus.yml')) as Obj;
    const job = list(prom.scrape_configs).find((j) => get(j, 'job_name') === 'intentdns');
    expect(list(get(job, 'static_configs.0.targets'))).toEqual(['intentdns:9153']);
    const promVolumes = list(get(services(), 'prometheus.volumes')).map(str);
    for (const ruleFile of list(prom.rule_files).map(str)) {
      expect(promVolumes.some((v) => v.split(':')[1] === ruleFile && existsSync(at('deploy/compose', v.split(':')[0]!))), ruleFile).toBe(true);
    }
    const ds = parseYaml(read('deploy/compose/grafana/provisioning/datasources/prometheus.yaml')) as Obj;
    expect(get(ds, 'datasources.0.url')).toBe('http://prometheus:9090');
    const provider = parseYaml(read('deploy/compose/grafana/provisioning/dashboards/intentdns.yaml')) as Obj;
    const path = str(get(provider, 'providers.0.options.path'));
    const mount = list(get(services(), 'grafana.volumes')).map(str).find((v) => v.split(':')[1] === path);
    expect(mount).toBeDefined();
    expect(existsSync(at('deploy/compose', mount!.split(':')[0]!, 'intentdns.json'))).toBe(true);
  });

  it('the traffic generators are bounded and never restarted', () => {
    const generators = Object.entries(services()).filter(([, s]) => list(get(s, 'command')).map(str).some((c) => c.includes('traffic.mjs')));
    expect(generators.length).toBeGreaterThan(0);
    for (const [name, s] of generators) {
      expect(get(s, 'restart'), name).toBe('no');
      const rounds = Number(get(s, 'environment.ROUNDS'));
      const interval = Number(get(s, 'environment.INTERVAL_MS'));
      expect(rounds * interval, name).toBeLessThanOrEqual(15 * 60_000);
    }
    const script = read('deploy/compose/traffic/traffic.mjs');
    expect(script).toMatch(/process\.exit\(0\)/); // the hard deadline
  });
});

describe('Dockerfile', () => {
  /** Instructions with continuation lines joined and comments dropped, each with its stage. */
  const instructions = (() => {
    const out: { stage: number; op: string; args: string }[] = [];
    let stage = -1;
    let pending = '';
    for (const raw of read('Dockerfile').split('\n')) {
      if (/^\s*#/.test(raw) && pending === '') continue;
      if (/^\s*#/.test(raw)) continue;
      const line = pending + raw.trim();
      if (line.endsWith('\\')) {
        pending = `${line.slice(0, -1)} `;
        continue;
      }
      pending = '';
      if (line.trim() === '') continue;
      const [op = '', ...rest] = line.trim().split(/\s+/);
      if (op.toUpperCase() === 'FROM') stage++;
      out.push({ stage, op: op.toUpperCase(), args: rest.join(' ') });
    }
    return out;
  })();
  const final = Math.max(...instructions.map((i) => i.stage));
  const inFinal = (op: string) => instructions.filter((i) => i.stage === final && i.op === op);

  it('is multi-stage: a build stage compiles, the final stage has production dependencies only', () => {
    const froms = instructions.filter((i) => i.op === 'FROM');
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.args).toMatch(/ AS \w+$/i);
    const runs = instructions.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /npm run build|tsc/.test(r))).toBe(true);
    const ci = runs.filter((r) => /npm ci/.test(r));
    expect(ci.some((r) => /--omit=dev/.test(r) && /--ignore-scripts/.test(r))).toBe(true);
    // Every npm ci skips our prepare script (tsc would run before src/ is copied, or without dev dependencies).
    for (const r of ci) expect(r).toMatch(/--ignore-scripts/);
    const copies = inFinal('COPY').map((c) => c.args);
    expect(copies.some((c) => /--from=build\b.*dist/.test(c))).toBe(true);
    expect(copies.some((c) => /--from=\w+.*node_modules/.test(c))).toBe(true);
    expect(inFinal('RUN').some((r) => /npm (ci|install)/.test(r.args))).toBe(false);
  });

  it('has no `# syntax=` line (BuildKit would fetch a frontend image, which fails offline)', () => {
    expect(read('Dockerfile')).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it('.dockerignore keeps the large directories out of the context, and none of what a COPY needs', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const path of ['node_modules', '.git', 'dist', 'bench/results', 'test/fixtures']) expect(ignored).toContain(path);
    // Plain paths and one *.ext pattern only, so this check can tell what each one covers.
    for (const p of ignored) expect(p, p).toMatch(/^(\*\.\w+|[\w./-]+)$/);
    const covers = (pattern: string, path: string) =>
      pattern.startsWith('*.') ? path.endsWith(pattern.slice(1)) : path === pattern || path.startsWith(`${pattern}/`) || pattern.startsWith(`${path}/`);
    const sources = instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))
      .flatMap((c) => c.args.split(/\s+/).filter((p) => !p.startsWith('--')).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'src', 'config/presets']));
    for (const s of sources) for (const p of ignored) expect(covers(p, s.replace(/\/$/, '')), `${p} would drop ${s}`).toBe(false);
  });

  it('copies only named paths that exist', () => {
    for (const c of instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      const sources = parts.slice(0, -1);
      for (const s of sources) {
        expect(s, 'no whole-context copies').not.toMatch(/^\.\/?$/);
        expect(existsSync(at(s)), s).toBe(true);
      }
    }
  });

  it('runs as a non-root user and can still bind 53 (file capability on node)', () => {
    const users = inFinal('USER');
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.args).not.toMatch(/^(0|root)(:|$)/);
    expect(inFinal('RUN').some((r) => /setcap cap_net_bind_service=\+ep \S*node/.test(r.args))).toBe(true);
  });

  it('exposes 53/udp, 53/tcp and the HTTP port, has a HEALTHCHECK on /healthz of that port, and starts dist/main.js serve', () => {
    const exposed = inFinal('EXPOSE').flatMap((e) => e.args.split(/\s+/));
    expect(exposed).toEqual(expect.arrayContaining(['53/udp', '53/tcp']));
    expect(exposed.some((p) => /^9153(\/tcp)?$/.test(p))).toBe(true);
    const health = inFinal('HEALTHCHECK');
    expect(health).toHaveLength(1);
    expect(health[0]!.args).toMatch(/CMD .*127\.0\.0\.1:9153\/healthz/);
    expect(inFinal('ENTRYPOINT')[0]?.args).toMatch(/dist\/main\.js/);
    expect(inFinal('CMD')[0]?.args).toMatch(/serve/);
    // The baked-in config is the container one from deploy/.
    expect(inFinal('COPY').some((c) => /deploy\/docker\/intentdns\.yaml \/etc\/intentdns\/intentdns\.yaml/.test(c.args))).toBe(true);
  });
});

describe('deploy/systemd/intentdns.service', () => {
  const unit = read('deploy/systemd/intentdns.service');
  const directives = unit.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => l.split('=', 1)[0] + '=' + l.slice(l.indexOf('=') + 1));

  it('is sandboxed, binds 53 with one ambient capability, and reloads with SIGHUP', () => {
    for (const d of [
      'DynamicUser=yes', 'AmbientCapabilities=CAP_NET_BIND_SERVICE', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'NoNewPrivileges=yes',
      'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'ExecReload=/bin/kill -HUP $MAINPID',
    ]) expect(directives).toContain(d);
    // V8's JIT needs W+X memory.
    expect(unit).not.toMatch(/^MemoryDenyWriteExecute=yes/m);
    expect(directives.find((d) => d.startsWith('ExecStart='))).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/intentdns\/dist\/main\.js serve /);
  });
});

describe('deploy/nftables/intentdns.nft', () => {
  it('redirects DNS from the agent subnet and drops DNS over TLS', () => {
    const nft = read('deploy/nftables/intentdns.nft');
    expect(nft).toMatch(/udp dport 53 redirect to :53/);
    expect(nft).toMatch(/tcp dport 53 redirect to :53/);
    expect(nft).toMatch(/tcp dport 853 .*(reject|drop)/);
    expect(nft).toMatch(/udp dport 853 .*drop/);
  });
});

describe('the files in deploy/', () => {
  it('are all covered by a test here or in .ci/check-deploy', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [relative(ROOT, join(dir, f))]));
    const known = /^deploy\/(docker\/intentdns\.yaml|systemd\/intentdns\.service|nftables\/(intentdns|agent-egress)\.nft|prometheus\/alerts(_test)?\.yml|grafana\/intentdns\.json|kubernetes\/[\w-]+\.yaml|compose\/.+\.(ya?ml|mjs))$/;
    expect(walk(at('deploy')).filter((f) => !known.test(f))).toEqual([]);
  });
});
