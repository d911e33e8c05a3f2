#!/usr/bin/env node
// Validates Kubernetes manifests offline, without a cluster:
//   node deploy/validate.mjs [file-or-dir ...]       (default: deploy/k8s)
// 1. Schema: every object is checked against the JSON schema of its apiVersion/kind for one
//    fixed Kubernetes version, from the npm package kubernetes-models (validators compiled
//    from the Kubernetes OpenAPI spec, v1.36), and CRDs from @kubernetes-models/
//    prometheus-operator (ServiceMonitor & co., compiled from the operator's CRD schemas).
//    An apiVersion/kind unknown to that version is an error.
// 2. References (what the API server or the controllers would trip on, which a schema cannot
//    see): selectors match pod labels, named ports, ConfigMap/Secret refs, HPA targets,
//    Ingress backends, StatefulSet service names, DNS-1123 names.
// Prints one line per object and exits 1 on any error.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const KUBERNETES_VERSION = '1.36';
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

const CRD_GROUPS = new Set(['monitoring.coreos.com']);
const isCrd = (apiVersion) => CRD_GROUPS.has(String(apiVersion).split('/')[0]);

/** The model module for an apiVersion/kind, or undefined when the pair does not exist. */
async function loadModel(apiVersion, kind) {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  if (!/^[A-Z][A-Za-z0-9]*$/.test(kind) || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return undefined;
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  let specifier;
  if (group === '') specifier = `kubernetes-models/${version}/${kind}`;
  else if (CRD_GROUPS.has(group)) {
    specifier = `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  } else specifier = `kubernetes-models/${group}/${version}/${kind}`;
  try {
    const module = await import(specifier);
    const Model = module[kind];
    return typeof Model === 'function' && Model.apiVersion === apiVersion && Model.kind === kind ? Model : undefined;
  } catch (error) {
    if (error?.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || error?.code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

function listFiles(target) {
  if (statSync(target).isDirectory()) {
    return readdirSync(target)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort()
      .map((name) => join(target, name));
  }
  return [target];
}

/** Parses every YAML document of the files: [{ file, index, object, errors }]. */
export function readManifests(targets) {
  const entries = [];
  for (const file of targets.flatMap(listFiles)) {
    const documents = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
    const list = Array.isArray(documents) ? documents : [documents];
    list.forEach((doc, index) => {
      const errors = [...doc.errors, ...doc.warnings].map((e) => `YAML: ${e.message.split('\n')[0]}`);
      const object = errors.length ? undefined : doc.toJS({ maxAliasCount: 0 });
      if (object === null && errors.length === 0) return; // an empty document (a trailing ---)
      entries.push({ file, index, object, errors });
    });
  }
  return entries;
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const matches = (selector, labels) => Object.entries(selector ?? {}).every(([key, value]) => labels?.[key] === value);
const podSpecOf = (o) => (o.kind === 'CronJob' ? o.spec?.jobTemplate?.spec?.template : o.spec?.template);
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

/** Checks between objects of the set; returns a map object -> extra errors. */
function checkReferences(objects) {
  const problems = new Map(objects.map((o) => [o, []]));
  const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
  const workloads = objects.filter((o) => WORKLOADS.has(o.kind));
  const podsMatching = (selector) =>
    workloads.filter(
      (w) => selector && Object.keys(selector).length && matches(selector, podSpecOf(w)?.metadata?.labels),
    );
  const containerPorts = (w) =>
    (podSpecOf(w)?.spec?.containers ?? []).flatMap((c) => (c.ports ?? []).map((p) => p.name).filter(Boolean));

  for (const o of objects) {
    const add = (message) => problems.get(o).push(message);
    const name = o.metadata?.name;
    if (typeof name !== 'string' || !DNS1123.test(name) || name.length > 253) {
      add(`metadata.name ${JSON.stringify(name)} is not a DNS-1123 name`);
    }
    if (WORKLOADS.has(o.kind) && o.kind !== 'CronJob') {
      const selector = o.spec?.selector?.matchLabels;
      if (selector && !matches(selector, podSpecOf(o)?.metadata?.labels)) {
        add('spec.selector.matchLabels do not match spec.template.metadata.labels');
      }
    }
    const pod = WORKLOADS.has(o.kind) ? podSpecOf(o)?.spec : undefined;
    for (const container of [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])]) {
      const names = new Set((container.ports ?? []).map((p) => p.name).filter(Boolean));
      for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
        const port = container[probe]?.httpGet?.port ?? container[probe]?.tcpSocket?.port;
        if (typeof port === 'string' && !names.has(port)) add(`${container.name}.${probe} uses unknown port "${port}"`);
      }
      for (const ref of container.envFrom ?? []) {
        if (ref.configMapRef && !ref.configMapRef.optional && !find('ConfigMap', ref.configMapRef.name)) {
          add(`${container.name}: envFrom ConfigMap "${ref.configMapRef.name}" is not in the manifests`);
        }
        if (ref.secretRef && !ref.secretRef.optional && !find('Secret', ref.secretRef.name)) {
          add(`${container.name}: envFrom Secret "${ref.secretRef.name}" is not in the manifests`);
        }
      }
      for (const env of container.env ?? []) {
        const ref = env.valueFrom?.secretKeyRef ?? env.valueFrom?.configMapKeyRef;
        if (!ref || ref.optional) continue;
        const kind = env.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
        const target = find(kind, ref.name);
        const keys = { ...target?.data, ...target?.stringData };
        if (!target) add(`${container.name}: env ${env.name} refers to ${kind} "${ref.name}", not in the manifests`);
        else if (!(ref.key in keys))
          add(`${container.name}: env ${env.name}: ${kind} "${ref.name}" has no key "${ref.key}"`);
      }
      const mounts = new Set((pod.volumes ?? []).map((v) => v.name));
      for (const t of o.spec?.volumeClaimTemplates ?? []) mounts.add(t.metadata?.name);
      for (const mount of container.volumeMounts ?? []) {
        if (!mounts.has(mount.name)) add(`${container.name}: volumeMount "${mount.name}" has no volume`);
      }
    }
    if (o.kind === 'StatefulSet' && o.spec?.serviceName && !find('Service', o.spec.serviceName)) {
      add(`spec.serviceName "${o.spec.serviceName}" is not a Service in the manifests`);
    }
    if (o.kind === 'Service' && o.spec?.selector) {
      const targets = podsMatching(o.spec.selector);
      if (targets.length === 0) add('spec.selector matches no workload in the manifests');
      for (const port of o.spec.ports ?? []) {
        if (typeof port.targetPort === 'string' && !targets.some((w) => containerPorts(w).includes(port.targetPort))) {
          add(
            `port ${port.name ?? port.port}: targetPort "${port.targetPort}" is not a container port of the selected pods`,
          );
        }
      }
    }
    if (o.kind === 'PodDisruptionBudget' && podsMatching(o.spec?.selector?.matchLabels).length === 0) {
      add('spec.selector matches no workload in the manifests');
    }
    if (o.kind === 'HorizontalPodAutoscaler') {
      const ref = o.spec?.scaleTargetRef;
      if (!ref || !find(ref.kind, ref.name)) add(`scaleTargetRef ${ref?.kind}/${ref?.name} is not in the manifests`);
      if ((o.spec?.minReplicas ?? 1) > o.spec?.maxReplicas) add('minReplicas > maxReplicas');
    }
    if (o.kind === 'Ingress') {
      const backends = (o.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => p.backend?.service));
      if (o.spec?.defaultBackend?.service) backends.push(o.spec.defaultBackend.service);
      for (const backend of backends.filter(Boolean)) {
        const service = find('Service', backend.name);
        if (!service) add(`backend service "${backend.name}" is not in the manifests`);
        else if (backend.port?.name && !(service.spec?.ports ?? []).some((p) => p.name === backend.port.name)) {
          add(`backend service "${backend.name}" has no port named "${backend.port.name}"`);
        }
      }
    }
    if (o.kind === 'ServiceMonitor') {
      const services = objects.filter(
        (s) =>
          s.kind === 'Service' &&
          Object.keys(o.spec?.selector?.matchLabels ?? {}).length > 0 &&
          matches(o.spec.selector.matchLabels, s.metadata?.labels),
      );
      if (services.length === 0) add('spec.selector matches no Service in the manifests');
      for (const endpoint of o.spec?.endpoints ?? []) {
        if (endpoint.port && !services.some((s) => (s.spec?.ports ?? []).some((p) => p.name === endpoint.port))) {
          add(`endpoint port "${endpoint.port}" is not a port name of the selected Services`);
        }
      }
    }
  }
  return problems;
}

/** Validates the manifests; returns [{ label, errors }] (one per object). */
export async function validateManifests(targets) {
  const entries = readManifests(targets);
  for (const entry of entries) {
    if (entry.errors.length) continue;
    const o = entry.object;
    if (!o || typeof o !== 'object' || Array.isArray(o)) {
      entry.errors.push('not a Kubernetes object (a YAML mapping with apiVersion and kind)');
      continue;
    }
    // kubernetes-models keeps the models of API versions that Kubernetes has since removed
    // (extensions/v1beta1, policy/v1beta1, autoscaling/v2beta2, ...); in the v1.36 spec every
    // built-in API is GA, so an alpha/beta built-in version is one this cluster won't serve.
    if (!isCrd(o.apiVersion) && /\/v\d+(alpha|beta)\d*$/.test(String(o.apiVersion))) {
      entry.errors.push(
        `apiVersion ${o.apiVersion} is not served by Kubernetes ${KUBERNETES_VERSION} (removed or not GA)`,
      );
      continue;
    }
    const Model = await loadModel(o.apiVersion, o.kind);
    if (!Model) {
      entry.errors.push(`unknown apiVersion/kind ${o.apiVersion}/${o.kind} for Kubernetes ${KUBERNETES_VERSION}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (error) {
      const details = error?.errors?.map((e) => `${e.instancePath || '/'} ${e.message}`) ?? [String(error?.message)];
      entry.errors.push(...details.map((d) => `schema: ${d}`));
    }
  }
  const objects = entries.filter((e) => e.object && typeof e.object === 'object' && e.object.kind).map((e) => e.object);
  const references = checkReferences(objects);
  return entries.map((entry) => {
    const o = entry.object;
    const where = `${relative(process.cwd(), entry.file) || basename(entry.file)}#${entry.index}`;
    const what = o && typeof o === 'object' ? `${o.apiVersion} ${o.kind} ${o.metadata?.name}` : '(unparsed)';
    return { label: `${where} ${what}`, errors: [...entry.errors, ...(references.get(o) ?? [])] };
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const targets = process.argv.slice(2);
  const results = await validateManifests(targets.length ? targets : [join(ROOT, 'deploy', 'k8s')]);
  let failed = 0;
  for (const { label, errors } of results) {
    if (errors.length) failed++;
    console.log(`${errors.length ? 'FAIL' : 'ok  '} ${label}${errors.map((e) => `\n       - ${e}`).join('')}`);
  }
  console.log(
    `Kubernetes ${KUBERNETES_VERSION} schemas (kubernetes-models, @kubernetes-models/prometheus-operator): ` +
      `${results.length - failed} valid, ${failed} invalid`,
  );
  process.exitCode = failed > 0 || results.length === 0 ? 1 : 0;
}
