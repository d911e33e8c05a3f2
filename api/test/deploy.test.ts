/**
 * Deployment artefacts: the Kubernetes manifests validate against the Kubernetes JSON schemas
 * (deploy/validate.mjs, offline), a broken manifest is rejected, and the Grafana dashboard
 * charts every DESIGN.md section 8 metric.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';

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
