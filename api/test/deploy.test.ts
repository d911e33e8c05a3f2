/**
 * Deployment artefacts: the Kubernetes manifests validate against the Kubernetes JSON schemas
 * (deploy/validate.mjs, offline), a broken manifest is rejected, and the Grafana dashboard
 * charts every DESIGN.md section 8 metric. The scale-out pieces (issue #17: a Redis Cluster
 * and PostgreSQL read replicas, in docker-compose.yml's profile `scale` and deploy/k8s) are
 * checked by reading and, where this machine can (no Docker engine here), by running their
 * shell scripts against real redis-server and PostgreSQL 15 processes started by the test.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { createRedisClient, parseRedisUrl } from '../src/adapters/redis-client.js';
import { loadConfig } from '../src/config.js';
import { findRedisServerBinary } from './helpers/redis-server.js';
import { freePort } from './helpers/processes.js';
import { describeWhen, NEEDS_REDIS_BINARY } from './helpers/skip.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VALIDATE = join(ROOT, 'deploy', 'validate.mjs');
const K8S = join(ROOT, 'deploy', 'k8s');

function validate(...targets: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [VALIDATE, ...targets], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const temp = mkdtempSync(join(tmpdir(), 'dash-k8s-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

/** The committed manifests plus `extra` (a file name -> YAML text), in a temp dir. */
function withExtra(files: Record<string, string>, dropCommitted: string[] = []) {
  const dir = mkdtempSync(join(temp, 'case-'));
  for (const name of readdirSync(K8S)) {
    if (!dropCommitted.includes(name)) writeFileSync(join(dir, name), readFileSync(join(K8S, name)));
  }
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('deploy/validate.mjs', () => {
  it('validates every committed manifest, one line per object', async () => {
    const { code, out } = await validate();
    expect(out).not.toMatch(/^FAIL/m);
    expect(code).toBe(0);
    const kinds = [...out.matchAll(/^ok {3}\S+ (\S+) (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'apps/v1 Deployment',
        'v1 Service',
        'autoscaling/v2 HorizontalPodAutoscaler',
        'networking.k8s.io/v1 Ingress',
        'policy/v1 PodDisruptionBudget',
        'apps/v1 StatefulSet',
        'v1 ConfigMap',
        'v1 Secret',
        'monitoring.coreos.com/v1 ServiceMonitor',
        'batch/v1 Job',
      ]),
    );
    expect(out).toMatch(/Kubernetes 1\.36 schemas .*: \d+ valid, 0 invalid/);
  });

  it('rejects schema violations: wrong types, missing required fields, unknown kinds, bad CRD values', async () => {
    const dir = withExtra({
      'broken.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
spec:
  replicas: two
  selector:
    matchLabels: { app: broken }
  template:
    metadata:
      labels: { app: broken }
    spec:
      containers:
        - image: example/broken:1
          ports:
            - containerPort: http
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: broken-hpa
spec:
  scaleTargetRef: { apiVersion: apps/v1, kind: Deployment, name: broken }
  maxReplicas: 3
  metrics:
    - type: Pods
      pods:
        metric: { name: dash_ws_connections }
        target: { type: AverageValue, averageValue: [1000] }
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata:
  name: removed-api
---
apiVersion: apps/v1
kind: DeploymentConfig
metadata:
  name: no-such-kind
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: broken-monitor
spec:
  selector:
    matchLabels: { app.kubernetes.io/name: dashboards-api }
  endpoints:
    - port: http
      interval: every-15-seconds
`,
    });
    const { code, out } = await validate(dir);
    expect(code).toBe(1);
    expect(out).toMatch(
      /^FAIL \S+ apps\/v1 Deployment broken\n(\s+- .*\n)*\s+- schema: \/spec\/replicas must be integer/m,
    );
    expect(out).toMatch(/schema: \/spec\/template\/spec\/containers\/0 must have required property name/);
    expect(out).toMatch(/schema: \/spec\/template\/spec\/containers\/0\/ports\/0\/containerPort must be integer/);
    expect(out).toMatch(/^FAIL \S+ autoscaling\/v2 HorizontalPodAutoscaler broken-hpa/m);
    expect(out).toMatch(
      /extensions\/v1beta1 Ingress removed-api\n\s+- apiVersion extensions\/v1beta1 is not served by Kubernetes 1\.36/,
    );
    expect(out).toMatch(/unknown apiVersion\/kind apps\/v1\/DeploymentConfig for Kubernetes 1\.36/);
    expect(out).toMatch(
      /^FAIL \S+ monitoring\.coreos\.com\/v1 ServiceMonitor broken-monitor\n\s+- schema: \/spec\/endpoints\/0\/interval must match pattern/m,
    );
    expect(out).toMatch(/: \d+ valid, 5 invalid$/m);
  });

  it('rejects broken references between objects and YAML errors', async () => {
    const deployment = readFileSync(join(K8S, 'deployment.yaml'), 'utf8');
    const broken = deployment
      .replace('path: /readyz\n              port: http', 'path: /readyz\n              port: web')
      .replace(/name: dashboards-api\n(\s+)key: JWT_SECRET/, 'name: dashboards-api\n$1key: JWT_SECRETS');
    expect(broken).not.toBe(deployment);
    const dir = withExtra(
      { 'deployment.yaml': broken, 'bad.yaml': 'apiVersion: v1\nkind: ConfigMap\n  metadata: x: y\n' },
      ['configmap.yaml'],
    );
    const { code, out } = await validate(dir);
    expect(code).toBe(1);
    expect(out).toMatch(/api\.readinessProbe uses unknown port "web"/);
    expect(out).toMatch(/env JWT_SECRET: Secret "dashboards-api" has no key "JWT_SECRETS"/);
    expect(out).toMatch(/envFrom ConfigMap "dashboards-api" is not in the manifests/);
    expect(out).toMatch(/^FAIL \S*bad\.yaml#0 \(unparsed\)\n\s+- YAML: /m);
  });
});

describe('deploy/grafana/dashboards.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'dashboards.json'), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr));

  it('charts every section 8 metric with the expected queries', () => {
    for (const metric of [
      'dash_ws_connections',
      'dash_subscriptions',
      'dash_present_clients',
      'dash_presence_updates_total',
      'dash_redis_up',
    ]) {
      expect(exprs.some((e) => e.includes(metric))).toBe(true);
    }
    const has = (re: RegExp) => expect(exprs.some((e) => re.test(e))).toBe(true);
    has(/rate\(dash_ops_committed_total\{/);
    has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(dash_op_commit_seconds_bucket\{/);
    has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(dash_op_delivery_seconds_bucket\{/);
    has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(dash_sync_catchup_seconds_bucket\{/);
    has(/rate\(dash_sync_failures_total\{/);
    has(/sum by \(reason\) \(rate\(dash_ws_disconnects_total\{/);
    has(/sum by \(code\) \(rate\(dash_rejected_total\{/);
    has(/rate\(dash_transform_conflicts_total\{/);
  });

  it('is a well-formed dashboard: unique panel ids, refIds and grid positions', () => {
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) {
      expect(panel.gridPos).toEqual({
        x: expect.any(Number),
        y: expect.any(Number),
        w: expect.any(Number),
        h: expect.any(Number),
      });
      expect(panel.targets.length).toBeGreaterThan(0);
      expect(new Set(panel.targets.map((t: any) => t.refId)).size).toBe(panel.targets.length);
    }
    expect(dashboard.uid).toBe('dashboards-api');
  });
});

// ---- Scale-out (issue #17): docker-compose.yml profile `scale`, redis-cluster.yaml, postgres-replica.yaml ----

type Service = {
  image?: string;
  profiles?: string[];
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  volumes?: string[];
  ports?: string[];
  user?: string;
  build?: string;
  read_only?: boolean;
};
const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  networks?: Record<string, unknown>;
};
const services = compose.services;

/** A value as Compose passes it to the container: `$$` is a literal `$`, `${X:-d}` is X or d. */
function interpolate(value: string, vars: Record<string, string> = {}): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?-([^}]*))?\}/g, (match, name?: string, fallback?: string) =>
    match === '$$' ? '$' : (vars[name!] ?? fallback ?? ''),
  );
}
const environmentOf = (name: string) =>
  Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
/** The `sh -ec <script>` of a service's command or entrypoint, interpolated. */
function scriptOf(name: string, key: 'command' | 'entrypoint'): string {
  const argv = services[name]![key]!;
  expect(argv.slice(0, 2)).toEqual(['sh', '-ec']);
  // Every `$` meant for the shell is doubled, or Compose would substitute it (from its own environment).
  expect(argv[2]!.replace(/\$\$/g, '')).not.toContain('$');
  return interpolate(argv[2]!);
}
const networksOf = (service: Service): Record<string, { aliases?: string[] } | null> =>
  Array.isArray(service.networks)
    ? Object.fromEntries(service.networks.map((n) => [n, null]))
    : (service.networks ?? { default: null });
/** `name` and everything it depends on, transitively. */
function dependencyClosure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen;
  seen.add(name);
  for (const dependency of Object.keys(services[name]?.depends_on ?? {})) dependencyClosure(dependency, seen);
  return seen;
}

const k8sObjects = readdirSync(K8S)
  .filter((name) => name.endsWith('.yaml'))
  .flatMap((name) =>
    parseAllDocuments(readFileSync(join(K8S, name), 'utf8'))
      .map((doc) => doc.toJS())
      .filter(Boolean),
  ) as any[];
const k8s = (kind: string, name: string) => {
  const found = k8sObjects.find((o) => o.kind === kind && o.metadata?.name === name);
  if (!found) throw new Error(`${kind} ${name} is not in deploy/k8s`);
  return found;
};
const container = (podSpec: any, name: string) =>
  [...(podSpec.initContainers ?? []), ...podSpec.containers].find((c: any) => c.name === name);
const envValue = (c: any, name: string) => c.env?.find((e: any) => e.name === name);

const DEFAULT_SERVICES = ['postgres', 'redis', 'api1', 'api2', 'prometheus', 'nginx'];

describe('docker-compose.yml', () => {
  it('keeps the default `docker compose up` as it was: one Redis, one PostgreSQL, no replica', () => {
    const unprofiled = Object.keys(services).filter((name) => !services[name]!.profiles);
    expect(unprofiled).toEqual(DEFAULT_SERVICES);
    for (const name of unprofiled) {
      // Nothing of the default stack waits for, or shares a network with, the scale stack.
      for (const dependency of dependencyClosure(name)) expect(services[dependency]!.profiles).toBeUndefined();
      expect(Object.keys(networksOf(services[name]!))).toEqual(['default']);
    }
    for (const api of ['api1', 'api2']) {
      expect(environmentOf(api).REDIS_URL).toBe('redis://redis:6379');
      expect(environmentOf(api).DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(environmentOf(api)).not.toHaveProperty('DATABASE_REPLICA_URLS');
    }
    expect(services.postgres!.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(services.postgres!.entrypoint).toBeUndefined();
  });

  it('profile `scale`: a 3-master Redis Cluster joined by a one-shot init, a primary with a streaming replica, and the API on both', () => {
    const scale = Object.keys(services).filter((name) => !DEFAULT_SERVICES.includes(name));
    for (const name of scale) expect([name, services[name]!.profiles]).toEqual([name, ['scale']]);

    // Redis: cluster-enabled redis:7 nodes (sharded pub/sub needs 7), all joined by the init.
    const clusterNodes = scale.filter((name) => services[name]!.command?.join(' ').includes('--cluster-enabled yes'));
    expect(clusterNodes).toHaveLength(3);
    for (const name of clusterNodes) expect(services[name]!.image).toBe('redis:7');
    const init = services['redis-cluster-init']!;
    expect(environmentOf('redis-cluster-init').NODES!.split(' ')).toEqual(clusterNodes.map((n) => `${n}:6379`));
    for (const name of clusterNodes) expect(init.depends_on?.[name]).toEqual({ condition: 'service_healthy' });
    expect(scriptOf('redis-cluster-init', 'command')).toMatch(
      /redis-cli --cluster create \$\{NODES\} --cluster-replicas 0 --cluster-yes/,
    );

    // PostgreSQL: the scale stack's own primary (replication role made at init) and a replica of it.
    expect(services['postgres-primary']!.image).toBe('postgres:15');
    expect(services['postgres-primary']!.volumes).toEqual(['pgdata-primary:/var/lib/postgresql/data']);
    expect(scriptOf('postgres-primary', 'entrypoint')).toMatch(
      /^exec docker-entrypoint\.sh postgres .*wal_level=replica/m,
    );
    const replica = services['postgres-replica']!;
    expect(replica.image).toBe('postgres:15');
    expect(replica.user).toBe('postgres');
    expect(replica.volumes).toEqual(['pgdata-replica:/var/lib/postgresql/data']);
    expect(environmentOf('postgres-replica').PRIMARY_HOST).toBe('postgres-primary');
    // One variable sets both ends of the replication password.
    expect(environmentOf('postgres-replica').PGPASSWORD).toBe(environmentOf('postgres-primary').REPLICATION_PASSWORD);
    expect(replica.depends_on).toEqual({ 'postgres-primary': { condition: 'service_healthy' } });

    // The API instances: what the config loader accepts, pointing at those services.
    const apis = scale.filter((name) => services[name]!.build !== undefined);
    expect(apis).toEqual(['api1-scale', 'api2-scale']);
    for (const api of apis) {
      const env = environmentOf(api);
      const config = loadConfig(env);
      const redis = parseRedisUrl(config.redisUrl!);
      expect(redis.kind === 'cluster' && redis.nodes.map((n) => `${n.host}:${n.port}`)).toEqual(
        clusterNodes.map((n) => `${n}:6379`),
      );
      expect(new URL(config.databaseUrl!).host).toBe('postgres-primary:5432');
      expect(config.databaseReplicaUrls.map((u) => new URL(u).host)).toEqual(['postgres-replica:5432']);
      expect(services[api]!.depends_on).toEqual({
        'postgres-primary': { condition: 'service_healthy' },
        'postgres-replica': { condition: 'service_started' },
        'redis-cluster-init': { condition: 'service_completed_successfully' },
      });
      expect(services[api]!.read_only).toBe(true);
    }

    // `up nginx-scale` starts the whole scale stack and nothing of the default one.
    expect([...dependencyClosure('nginx-scale')].sort()).toEqual(
      [...apis, 'nginx-scale', 'postgres-primary', 'postgres-replica', 'redis-cluster-init', ...clusterNodes].sort(),
    );
  });

  it('nginx-scale runs the default nginx.conf, whose upstream names are the scale instances on its network', () => {
    const nginx = services['nginx-scale']!;
    expect(nginx.volumes).toEqual(services.nginx!.volumes);
    expect(nginx.ports).not.toEqual(services.nginx!.ports);
    expect(Object.keys(networksOf(nginx))).toEqual(['scale']);
    const conf = readFileSync(join(ROOT, 'deploy', 'nginx', 'nginx.conf'), 'utf8');
    const upstreams = [...conf.matchAll(/^\s*server (\S+):4000\b/gm)].map((m) => m[1]);
    // Who answers to each upstream name on the network `scale`.
    const onScale = Object.entries(services).flatMap(([name, service]) => {
      const networks = networksOf(service);
      return 'scale' in networks ? [name, ...(networks.scale?.aliases ?? [])].map((alias) => [alias, name]) : [];
    });
    expect(upstreams).toEqual(['api1', 'api2']);
    expect(upstreams.map((u) => onScale.filter(([alias]) => alias === u).map(([, name]) => name))).toEqual([
      ['api1-scale'],
      ['api2-scale'],
    ]);
    expect(compose.networks).toHaveProperty('scale');
  });
});

describe('deploy/k8s scale-out manifests', () => {
  it('redis-cluster.yaml: six pods behind a headless Service, joined by a Job as 3 masters + 3 replicas; REDIS_URL seeds are its pods', () => {
    const sts = k8s('StatefulSet', 'dashboards-redis-cluster');
    expect(sts.spec.replicas).toBe(6);
    const service = k8s('Service', sts.spec.serviceName);
    expect(service.spec.clusterIP).toBe('None');
    expect(service.spec.publishNotReadyAddresses).toBe(true);
    const redis = container(sts.spec.template.spec, 'redis');
    expect(redis.image).toBe('redis:7');
    expect(redis.args[0]).toMatch(/exec redis-server --cluster-enabled yes --cluster-config-file \/data\/nodes\.conf/);
    expect(redis.volumeMounts).toEqual([{ name: 'data', mountPath: '/data' }]);
    expect(envValue(redis, 'POD_IP').valueFrom.fieldRef.fieldPath).toBe('status.podIP');

    const pods = Array.from({ length: 6 }, (_, i) => `${sts.metadata.name}-${i}.${service.metadata.name}:6379`);
    const job = k8s('Job', 'dashboards-redis-cluster-create');
    const create = container(job.spec.template.spec, 'create');
    expect(envValue(create, 'NODES').value.split(' ')).toEqual(pods);
    expect(create.args[0]).toMatch(/redis-cli --cluster create \$\{NODES\} --cluster-replicas 1 --cluster-yes/);
    // Kubernetes would substitute $(NAME) in args itself.
    expect(create.args[0]).not.toContain('$(');
    expect(redis.args[0]).not.toContain('$(');

    const configmap = readFileSync(join(K8S, 'configmap.yaml'), 'utf8');
    const active = k8s('ConfigMap', 'dashboards-api').data.REDIS_URL;
    expect(active).toBe('redis://dashboards-redis:6379');
    const alternative = /^\s*# REDIS_URL: (\S+)$/m.exec(configmap)?.[1];
    const target = parseRedisUrl(alternative!);
    expect(target.kind === 'cluster' && target.nodes.map((n) => `${n.host}:${n.port}`)).toEqual(pods.slice(0, 3));
    expect(loadConfig({ REDIS_URL: alternative }).redisUrl).toBe(alternative);
  });

  it('postgres-replica.yaml: clones the primary Service with the replicator role, and no primary Service selects it', () => {
    const primary = k8s('StatefulSet', 'dashboards-postgres');
    const primaryService = k8s('Service', 'dashboards-postgres');
    const replica = k8s('StatefulSet', 'dashboards-postgres-replica');
    const replicaService = k8s('Service', replica.spec.serviceName);
    const labels = replica.spec.template.metadata.labels;
    // A write sent to DATABASE_URL must never land on a standby.
    expect(Object.entries(primaryService.spec.selector).every(([k, v]) => labels[k] === v)).toBe(false);
    expect(Object.entries(replicaService.spec.selector).every(([k, v]) => labels[k] === v)).toBe(true);

    const clone = container(replica.spec.template.spec, 'clone');
    expect(envValue(clone, 'PRIMARY_HOST').value).toBe(primaryService.metadata.name);
    expect(clone.args[0]).toMatch(/pg_basebackup -h "\$PRIMARY_HOST" -U replicator -D "\$PGDATA" -R -X stream/);
    const postgres = container(replica.spec.template.spec, 'postgres');
    expect(envValue(clone, 'PGDATA').value).toBe(envValue(postgres, 'PGDATA').value);
    expect(clone.volumeMounts).toEqual(postgres.volumeMounts.filter((m: any) => m.name === 'data'));
    // Both ends read the password from one Secret key; the primary's is optional, so a Secret
    // made before read replicas existed still starts it.
    const primaryPassword = envValue(container(primary.spec.template.spec, 'postgres'), 'REPLICATION_PASSWORD');
    expect(primaryPassword.valueFrom.secretKeyRef).toEqual({
      ...envValue(clone, 'PGPASSWORD').valueFrom.secretKeyRef,
      optional: true,
    });
    const init = k8s('ConfigMap', 'dashboards-postgres-init');
    expect(primary.spec.template.spec.volumes).toContainEqual({
      name: 'init',
      configMap: { name: init.metadata.name },
    });
    expect(container(primary.spec.template.spec, 'postgres').volumeMounts).toContainEqual({
      name: 'init',
      mountPath: '/docker-entrypoint-initdb.d',
      readOnly: true,
    });

    // The API reads DATABASE_REPLICA_URLS from its Secret, optionally; the placeholder shows a pod.
    const api = container(k8s('Deployment', 'dashboards-api').spec.template.spec, 'api');
    expect(envValue(api, 'DATABASE_REPLICA_URLS').valueFrom.secretKeyRef).toEqual({
      name: 'dashboards-api',
      key: 'DATABASE_REPLICA_URLS',
      optional: true,
    });
    const example = /^\s*# DATABASE_REPLICA_URLS: (\S+)$/m.exec(readFileSync(join(K8S, 'secret.yaml'), 'utf8'))?.[1];
    expect(new URL(example!).host).toBe(`${replica.metadata.name}-0.${replicaService.metadata.name}:5432`);
  });
});

// ---- The scripts, run for real ----

const children = new Set<ChildProcess>();
afterAll(async () => {
  await Promise.all([...children].map((child) => stopChild(child, 'SIGKILL')));
});

/** Starts a long-running process; its output is kept for failure messages. */
function startChild(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): ChildProcess & { output: () => string } {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  children.add(child);
  child.once('exit', () => children.delete(child));
  return Object.assign(child, { output: () => output });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

/** Runs `sh -ec script` to its end: { code, out } (stdout and stderr). */
function runScript(
  script: string,
  options: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {},
): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-ec', script], { ...options, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const REDIS_SERVER = findRedisServerBinary();

describeWhen(REDIS_SERVER !== null, NEEDS_REDIS_BINARY)(
  'Redis Cluster creation scripts, run against real nodes',
  () => {
    // Made when the suite runs (not when it is collected), so a filtered run leaves nothing.
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'dash-redis-scale-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const redisCli = (port: number, ...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('redis-cli', ['-p', String(port), ...args], (error, stdout) =>
          error ? reject(error) : resolve(stdout),
        ),
      );
    const waitForPong = (port: number) =>
      waitFor(async () => (await redisCli(port, 'ping')).trim() === 'PONG', {
        timeout: 10_000,
        interval: 20,
        description: `redis on ${port}`,
      });
    const clusterInfo = async (port: number) =>
      Object.fromEntries(
        (await redisCli(port, 'cluster', 'info'))
          .split(/\r?\n/)
          .filter(Boolean)
          .map((line) => line.split(':')),
      ) as Record<string, string>;
    /** Each node's own word for its role (ROLE), sorted. */
    const roles = async (ports: number[]) =>
      (await Promise.all(ports.map(async (port) => (await redisCli(port, 'role')).split('\n')[0]))).sort();

    it('compose: redis-cluster-init joins the three nodes as masters, a second run leaves them alone, REDIS_URL reaches them', async () => {
      // The nodes as compose runs them (their command), on free ports in temp dirs.
      const [, ...nodeArgs] = services['redis-node-1']!.command!;
      const ports = await Promise.all([1, 2, 3].map(() => freePort()));
      for (const port of ports) {
        mkdirSync(join(dir, `compose-${port}`));
        startChild(REDIS_SERVER!, [...nodeArgs, '--port', String(port), '--dir', join(dir, `compose-${port}`)]);
      }
      await Promise.all(ports.map(waitForPong));

      const script = scriptOf('redis-cluster-init', 'command');
      const env = { PATH: process.env.PATH, NODES: ports.map((p) => `127.0.0.1:${p}`).join(' ') };
      const first = await runScript(script, { env });
      expect(first).toEqual({ code: 0, out: expect.stringMatching(/redis cluster: created\n$/) });
      for (const port of ports) {
        expect(await clusterInfo(port)).toMatchObject({
          cluster_state: 'ok',
          cluster_size: '3',
          cluster_known_nodes: '3',
        });
      }
      expect(await roles(ports)).toEqual(['master', 'master', 'master']);

      const second = await runScript(script, { env });
      expect(second).toEqual({ code: 0, out: 'redis cluster: already created\n' });

      // What the scale API instances open with their REDIS_URL (redis-cluster://, seeds).
      const client = createRedisClient(`redis-cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`, { node: {} });
      try {
        const keys = ['dash:{d:a}:presence', 'dash:{d:b}:presence', 'dash:{d:c}:presence'];
        for (const key of keys) await client.set(key, key);
        expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys);
      } finally {
        await client.quit();
      }
    });

    it('k8s: the Job joins six StatefulSet pods as 3 masters + 3 replicas; a pod restarted on a new IP announces that IP', async () => {
      const sts = k8s('StatefulSet', 'dashboards-redis-cluster');
      const redis = container(sts.spec.template.spec, 'redis');
      expect(redis.command).toEqual(['sh', '-ec']);
      // The pod's script with its volume at a temp dir, and redis-server given a free port.
      const shims = join(dir, 'shims');
      mkdirSync(shims);
      writeFileSync(join(shims, 'redis-server'), `#!/bin/sh\nexec ${REDIS_SERVER} "$@" --port "$TEST_PORT"\n`);
      chmodSync(join(shims, 'redis-server'), 0o755);
      const pods = await Promise.all(Array.from({ length: 6 }, () => freePort()));
      const startPod = (port: number) => {
        const data = join(dir, `pod-${port}`);
        mkdirSync(data, { recursive: true });
        return startChild('sh', ['-ec', redis.args[0].replaceAll('/data', data)], {
          env: { PATH: `${shims}:${process.env.PATH}`, POD_IP: '127.0.0.1', TEST_PORT: String(port) },
        });
      };
      const running = new Map(pods.map((port) => [port, startPod(port)]));
      await Promise.all(pods.map(waitForPong));

      const create = container(k8s('Job', 'dashboards-redis-cluster-create').spec.template.spec, 'create');
      const env = { PATH: process.env.PATH, NODES: pods.map((p) => `127.0.0.1:${p}`).join(' ') };
      const result = await runScript(create.args[0], { env });
      expect(result).toEqual({ code: 0, out: expect.stringMatching(/redis cluster: created\n$/) });
      expect(await clusterInfo(pods[0]!)).toMatchObject({
        cluster_state: 'ok',
        cluster_size: '3',
        cluster_known_nodes: '6',
      });
      expect(await roles(pods)).toEqual(['master', 'master', 'master', 'slave', 'slave', 'slave']);
      expect((await runScript(create.args[0], { env })).out).toBe('redis cluster: already created\n');

      // A restarted pod keeps its nodes.conf (the PVC) but gets a new IP: the file still names
      // the old one. Without the rewrite the node would go on reporting that old address.
      const port = pods[5]!;
      await stopChild(running.get(port)!);
      const nodesConf = join(dir, `pod-${port}`, 'nodes.conf');
      writeFileSync(
        nodesConf,
        readFileSync(nodesConf, 'utf8').replace(/^(\S+ )127\.0\.0\.1(:\d+@\d+\S* myself)/m, '$110.255.255.1$2'),
      );
      expect(readFileSync(nodesConf, 'utf8')).toMatch(/ 10\.255\.255\.1:\d+@\d+\S* myself/);
      startPod(port);
      await waitForPong(port);
      const myself = (await redisCli(port, 'cluster', 'nodes')).split('\n').find((line) => line.includes('myself'));
      expect(myself).toContain(` 127.0.0.1:${port}@`);
      await waitFor(async () => (await clusterInfo(port)).cluster_state === 'ok', {
        timeout: 15_000,
        interval: 100,
        description: 'the restarted node to rejoin',
      });
      expect(await roles(pods)).toEqual(['master', 'master', 'master', 'slave', 'slave', 'slave']);
    });
  },
);

// PostgreSQL refuses to run as root: as root (CI), every PostgreSQL process runs as `postgres`.
const PG_BIN = ['/usr/lib/postgresql/15/bin'].find((dir) => existsSync(join(dir, 'pg_basebackup')));
const PG_USER = (() => {
  if (process.getuid?.() !== 0) return {};
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((line) => line.startsWith('postgres:'));
  return entry ? { uid: Number(entry.split(':')[2]), gid: Number(entry.split(':')[3]) } : undefined;
})();

/** Where each deployment keeps the same four things; the test runs them as the image would. */
interface ReplicationRecipe {
  /** Sourced by the image's entrypoint when it initializes the primary's empty volume. */
  primaryInit: string;
  /** The primary's server flags. */
  primaryFlags: string[];
  /** Clones the primary into an empty $PGDATA (skips when it holds a database). */
  clone: string;
  /** The replica's server flags. */
  replicaFlags: string[];
}

function composeRecipe(): ReplicationRecipe {
  const primary = scriptOf('postgres-primary', 'entrypoint');
  const replica = scriptOf('postgres-replica', 'entrypoint');
  const flags = (script: string) => /^exec docker-entrypoint\.sh postgres(.*)$/m.exec(script)![1]!.trim().split(/\s+/);
  return {
    primaryInit: /<<'EOF'\n([\s\S]*?)\nEOF\n/.exec(primary)![1]!,
    primaryFlags: flags(primary),
    clone: replica.replace(/^exec docker-entrypoint\.sh .*$/m, ''),
    replicaFlags: flags(replica),
  };
}

function k8sRecipe(): ReplicationRecipe {
  const primary = container(k8s('StatefulSet', 'dashboards-postgres').spec.template.spec, 'postgres');
  const replica = k8s('StatefulSet', 'dashboards-postgres-replica').spec.template.spec;
  const serverFlags = (c: any) => {
    expect(c.args[0]).toBe('postgres');
    return c.args.slice(1) as string[];
  };
  return {
    primaryInit: k8s('ConfigMap', 'dashboards-postgres-init').data['replication.sh'],
    primaryFlags: serverFlags(primary),
    clone: container(replica, 'clone').args[0],
    replicaFlags: serverFlags(container(replica, 'postgres')),
  };
}

describeWhen(
  PG_BIN !== undefined && PG_USER !== undefined,
  'needs the PostgreSQL 15 server binaries (apt-get install postgresql-15) and, as root, a postgres user',
)('PostgreSQL primary + streaming replica scripts, run against PostgreSQL 15', () => {
  it.each([
    ['docker-compose.yml', composeRecipe],
    ['deploy/k8s', k8sRecipe],
  ])(
    '%s: the replica clones the primary as replicator, streams its commits, and restarts without cloning again',
    async (_, recipe) => {
      const { primaryInit, primaryFlags, clone, replicaFlags } = recipe();
      const root = mkdtempSync(join(tmpdir(), 'dash-pg-scale-'));
      const dirs = { sockets: join(root, 's'), primary: join(root, 'primary'), volume: join(root, 'replica-volume') };
      for (const path of Object.values(dirs)) mkdirSync(path);
      for (const path of [root, ...Object.values(dirs)])
        if (PG_USER!.uid !== undefined) chownSync(path, PG_USER!.uid, PG_USER!.gid!);
      const [primaryPort, replicaPort] = [await freePort(), await freePort()];
      const password = 'test-replication-secret';
      const baseEnv = { PATH: `${PG_BIN}:${process.env.PATH}`, HOME: root, LANG: 'C' };
      const clients: pg.Client[] = [];
      const connect = async (port: number, database = 'dashboards') => {
        const client = new pg.Client({ host: dirs.sockets, port, user: 'dashboards', database });
        // Stopping a server ends its sessions: expected here, not a test failure.
        client.on('error', () => undefined);
        clients.push(client);
        await client.connect();
        return client;
      };
      const closeAll = () => Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
      const startPostgres = (data: string, port: number, flags: string[]) =>
        startChild(
          join(PG_BIN!, 'postgres'),
          ['-D', data, '-p', String(port), '-k', dirs.sockets, '-c', 'listen_addresses=127.0.0.1', ...flags],
          { ...PG_USER, env: baseEnv },
        );
      const ready = (port: number, what: string) =>
        waitFor(async () => (await connect(port)).query('SELECT 1'), {
          timeout: 20_000,
          interval: 100,
          description: what,
        });

      try {
        // The primary as the postgres image makes it: initdb, the database, then the init
        // script (under a first server), then the server with the deployment's flags.
        const initdb = await runScript(`initdb -D '${dirs.primary}' -U dashboards -A trust >/dev/null`, {
          ...PG_USER,
          env: baseEnv,
        });
        expect(initdb).toEqual({ code: 0, out: expect.any(String) });
        // As the image leaves pg_hba.conf for other containers: passwords for any database,
        // and no replication (the keyword `all` does not cover it); the init script adds that.
        writeFileSync(join(dirs.primary, 'pg_hba.conf'), 'local all all trust\nhost all all all scram-sha-256\n');
        let primary = startPostgres(dirs.primary, primaryPort, primaryFlags);
        await waitFor(async () => (await connect(primaryPort, 'postgres')).query('CREATE DATABASE dashboards'), {
          timeout: 20_000,
          interval: 100,
          description: 'the primary',
        });
        const init = await runScript(primaryInit, {
          ...PG_USER,
          env: {
            ...baseEnv,
            PGDATA: dirs.primary,
            POSTGRES_USER: 'dashboards',
            POSTGRES_DB: 'dashboards',
            REPLICATION_PASSWORD: password,
            PGHOST: dirs.sockets,
            PGPORT: String(primaryPort),
          },
        });
        expect(init).toEqual({ code: 0, out: 'CREATE ROLE\n' });
        await closeAll();
        await stopChild(primary, 'SIGINT');
        primary = startPostgres(dirs.primary, primaryPort, primaryFlags);
        await ready(primaryPort, 'the primary to restart');
        await closeAll();
        const onPrimary = await connect(primaryPort);
        expect((await onPrimary.query('SHOW wal_level')).rows[0].wal_level).toBe('replica');
        await onPrimary.query('CREATE TABLE ops (version int PRIMARY KEY)');
        await onPrimary.query('INSERT INTO ops VALUES (1)');

        // The replica: clone over TCP with the replication password, then the server (what the
        // image's entrypoint does with an existing database: fix the directory's mode, run it).
        const replicaEnv = {
          ...baseEnv,
          PGDATA: join(dirs.volume, 'pgdata'),
          PRIMARY_HOST: '127.0.0.1',
          PGPORT: String(primaryPort),
          PGPASSWORD: password,
        };
        const startReplica = async (env: typeof replicaEnv) => {
          const cloned = await runScript(clone, { ...PG_USER, env });
          expect(cloned).toEqual({ code: 0, out: expect.any(String) });
          return startPostgres(env.PGDATA, replicaPort, replicaFlags);
        };
        let replica = await startReplica(replicaEnv);
        await ready(replicaPort, 'the replica').catch((error) => {
          throw new Error(`${error.message}\n${replica.output()}`);
        });
        const probes = clients.splice(1);
        await Promise.all(probes.map((c) => c.end().catch(() => undefined)));
        let onReplica = await connect(replicaPort);
        expect((await onReplica.query('SELECT pg_is_in_recovery() AS standby')).rows[0].standby).toBe(true);
        expect((await onReplica.query('SHOW hot_standby_feedback')).rows[0].hot_standby_feedback).toBe('on');
        await onPrimary.query('INSERT INTO ops VALUES (2)');
        await waitFor(async () => (await onReplica.query('SELECT count(*)::int AS n FROM ops')).rows[0].n === 2, {
          timeout: 10_000,
          interval: 50,
          description: 'the insert to reach the replica',
        });
        const senders = await onPrimary.query('SELECT usename, state FROM pg_stat_replication');
        expect(senders.rows).toEqual([{ usename: 'replicator', state: 'streaming' }]);

        // Restart: the volume holds a database, so no clone (an unreachable primary host would
        // fail one); it resumes streaming and catches up with what it missed.
        await Promise.all(clients.splice(1).map((c) => c.end().catch(() => undefined)));
        await stopChild(replica, 'SIGINT');
        await onPrimary.query('INSERT INTO ops VALUES (3)');
        replica = await startReplica({ ...replicaEnv, PRIMARY_HOST: 'no-such-host.invalid' });
        await ready(replicaPort, 'the replica to restart');
        onReplica = await connect(replicaPort);
        await waitFor(async () => (await onReplica.query('SELECT max(version) AS v FROM ops')).rows[0].v === 3, {
          timeout: 10_000,
          interval: 50,
          description: 'the replica to catch up after its restart',
        });
        await closeAll();
        await stopChild(replica, 'SIGINT');
        await stopChild(primary, 'SIGINT');
      } finally {
        await closeAll();
        rmSync(root, { recursive: true, force: true });
      }
    },
  );
});
