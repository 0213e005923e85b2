import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { redisTopologyFromEnv } from '@rtv/bus';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadGatewayConfig } from '../../services/gateway/src/config.js';
import { loadWorkerConfig } from '../../services/session-worker/src/config.js';
import { loadStatusConfig } from '../../services/status-api/src/config.js';
import { type RuleFile, releaseDashboard, scopedRules } from '../observability/helpers/artifacts.js';
import {
  CHART_DIR,
  type Container,
  find,
  helm,
  type K8sObject,
  PRODUCTION_VALUES,
  podTemplate,
  REPO_ROOT,
  render,
  renderError,
  renderText,
  type Volume,
  WORKLOAD_KINDS,
  withValuesFile,
} from './support/helm.js';
import { validateK8sObject } from './support/k8s-schema.js';
import { SERVICES, type ServiceFacts } from './support/services.js';

// Rendered by the real helm (scripts/helm.mjs) and judged on the YAML it produces: no cluster needed.

const API_KEY = 'sk-test-provider-key-0123456789abcdef';

/** Every optional template switched on, plausible secrets given as values, every optional setting set. */
const EVERYTHING = {
  set: {
    'ingress.enabled': 'true',
    'metrics.serviceMonitor.enabled': 'true',
    'metrics.prometheusRule.enabled': 'true',
    'metrics.grafanaDashboard.enabled': 'true',
    'redis.exporter.enabled': 'true',
    'gateway.autoscaling.enabled': 'true',
    'worker.autoscaling.enabled': 'true',
    'statusApi.replicaCount': '2',
    'redis.bundled.enabled': 'false',
    'redis.external.url': 'rediss://rtv@redis.internal:6380',
    'redis.external.existingSecret': 'managed-redis',
    'redis.external.tlsCaSecret': 'managed-redis-ca',
    'provider.apiKey': API_KEY,
    'auth.allowedOrigins[0]': 'https://voice.example.com',
    'gateway.trustedProxies[0]': '10.0.0.0/8',
    'gateway.maxConnectionsPerIp': '50',
    'gateway.maxConnectionsPerGateway': '20000',
    'worker.historyMaxBytes': '262144',
    'worker.providerQueueMaxBytes': '1048576',
    'networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.name': 'ingress-nginx',
  },
};

const AZURE_KEY = 'azure-test-key-that-must-not-leak-0123456789';
const AZURE_ENDPOINT = 'https://voice-eu.openai.azure.com';
/** Azure OpenAI without a credential: each variant below adds exactly one. */
const AZURE = {
  'provider.kind': 'azure',
  'provider.azure.endpoint': AZURE_ENDPOINT,
  'provider.azure.deployment': 'gpt-realtime',
};
/** The production values switched to Azure OpenAI, the key from an existing Secret. */
const AZURE_SECRET = {
  valuesFiles: [PRODUCTION_VALUES],
  set: {
    ...AZURE,
    'provider.existingSecret': '',
    'provider.azure.existingSecret': 'realtime-voice-azure-openai',
  },
};
/** A trial: the Azure key given as a value. */
const AZURE_KEY_VALUE = { set: { ...AZURE, 'provider.azure.apiKey': AZURE_KEY } };
/** An Entra ID token file on an in-memory volume that a refresher sidecar writes. */
const TOKEN_SIDECAR = {
  name: 'token-refresher',
  image: 'registry.example.com/voice/entra-token-refresher:1.0.0',
  args: ['--scope', 'https://cognitiveservices.azure.com/.default', '--out', '/out/token'],
  volumeMounts: [{ name: 'azure-openai-token', mountPath: '/out' }],
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  },
};
const AZURE_TOKEN_FILE = {
  values: {
    provider: {
      kind: 'azure',
      azure: {
        endpoint: AZURE_ENDPOINT,
        deployment: 'gpt-realtime',
        tokenFile: { enabled: true, volume: { emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } } },
      },
    },
    worker: { extraContainers: [TOKEN_SIDECAR] },
  },
};

/** Variables that carry or select the provider: the gateway and the status API must never get one. */
const PROVIDER_VAR = /^(RTV_PROVIDER|OPENAI_|AZURE_OPENAI_)/;

const CONTAINER_SERVICE: Record<string, ServiceFacts> = {
  gateway: SERVICES.gateway,
  'session-worker': SERVICES['session-worker'],
  'status-api': SERVICES['status-api'],
};

const workloads = (objects: K8sObject[]) => objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
const chartContainers = (objects: K8sObject[]) =>
  workloads(objects).flatMap((w) => {
    const spec = podTemplate(w).spec;
    return [...spec.containers, ...(spec.initContainers ?? [])].map((c) => ({ workload: w, container: c }));
  });
const configData = (objects: K8sObject[], component: string) =>
  (find(objects, 'ConfigMap', `-${component}`) as K8sObject & { data: Record<string, string> }).data;
const envEntry = (c: Container, name: string) => c.env?.find((e) => e.name === name);
const valuesOf = (file: string) => parse(readFileSync(file, 'utf8')) as { drain: { timeoutSeconds: number } };
const container = (objects: K8sObject[], component: string) =>
  podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers[0]!;
const volumes = (objects: K8sObject[], component: string) =>
  podTemplate(find(objects, 'Deployment', `-${component}`)).spec.volumes ?? [];

/** The NOTES helm prints after an install (client-side dry run). */
function installNotes(extra: string[]): string {
  const res = helm(['install', 'voice', CHART_DIR, '--dry-run=client', '--namespace', 'voice', ...extra]);
  expect(res.status, res.stderr).toBe(0);
  return res.stdout.slice(res.stdout.indexOf('NOTES:'));
}
const setArgs = (set: Record<string, string>) =>
  Object.entries(set).flatMap(([k, v]) => ['--set', `${k}=${v}`]);

describe('helm chart deploy/helm/realtime-voice', () => {
  let variants: Record<
    'default' | 'production' | 'everything' | 'azureSecret' | 'azureKey' | 'azureTokenFile',
    K8sObject[]
  >;

  beforeAll(() => {
    variants = {
      default: render(),
      production: render({ valuesFiles: [PRODUCTION_VALUES] }),
      everything: render(EVERYTHING),
      azureSecret: render(AZURE_SECRET),
      azureKey: render(AZURE_KEY_VALUE),
      azureTokenFile: render(AZURE_TOKEN_FILE),
    };
  }, 300_000);

  it('passes helm lint --strict with default, production and Azure OpenAI values', () => {
    const lint = (extra: string[]) => {
      const res = helm(['lint', '--strict', CHART_DIR, ...extra]);
      expect(res.stdout, extra.join(' ')).toContain('0 chart(s) failed');
      expect(res.status).toBe(0);
    };
    for (const extra of [[], ['--values', PRODUCTION_VALUES]]) lint(extra);
    lint(['--values', PRODUCTION_VALUES, ...setArgs(AZURE_SECRET.set)]);
    withValuesFile(AZURE_TOKEN_FILE.values, (file) => lint(['--values', file]));
  });

  it('renders only objects that are valid against the Kubernetes schemas, unknown fields included', async () => {
    for (const [variant, objects] of Object.entries(variants)) {
      expect(objects.length, variant).toBeGreaterThan(10);
      const problems = (await Promise.all(objects.map((o) => validateK8sObject(o)))).flat();
      expect(problems, variant).toEqual([]);
    }
  });

  it('keeps the anonymous route off and lets no browser origin in, by default and in production', () => {
    for (const variant of ['default', 'production'] as const) {
      const config = configData(variants[variant], 'gateway');
      expect(config.RTV_ALLOW_ANONYMOUS, variant).toBe('false');
      // Unset means none under NODE_ENV=production, whatever image runs.
      expect(config.NODE_ENV, variant).toBe('production');
    }
    expect(configData(variants.default, 'gateway').RTV_ALLOWED_ORIGINS).toBeUndefined();
    expect(configData(variants.production, 'gateway').RTV_ALLOWED_ORIGINS).toBe('https://voice.example.com');
    expect(
      configData(render({ set: { 'auth.allowAnonymous': 'true' } }), 'gateway').RTV_ALLOW_ANONYMOUS,
    ).toBe('true');
  });

  it('gives gateways and workers a termination grace period above the drain timeout and preStop sleep', () => {
    for (const [variant, valuesFile] of [
      ['default', path.join(CHART_DIR, 'values.yaml')],
      ['production', PRODUCTION_VALUES],
    ] as const) {
      const drain =
        valuesOf(valuesFile).drain?.timeoutSeconds ??
        valuesOf(path.join(CHART_DIR, 'values.yaml')).drain.timeoutSeconds;
      for (const component of ['gateway', 'worker']) {
        const pod = podTemplate(find(variants[variant], 'Deployment', `-${component}`));
        const preStop = pod.spec.containers[0]!.lifecycle?.preStop?.exec?.command;
        const sleep = preStop ? Number(preStop[1]) : 0;
        expect(pod.spec.terminationGracePeriodSeconds, `${variant} ${component}`).toBeGreaterThan(
          drain + sleep,
        );
      }
    }
    // The gateway sleeps before draining so load balancers stop routing to it first.
    const gateway = podTemplate(find(variants.default, 'Deployment', '-gateway')).spec.containers[0]!;
    expect(gateway.lifecycle?.preStop?.exec?.command).toEqual(['sleep', '5']);
  });

  it('refuses to render a grace period that would cut a drain short', () => {
    const err = renderError({ set: { 'gateway.terminationGracePeriodSeconds': '30' } });
    expect(err).toContain('gateway.terminationGracePeriodSeconds (30) must exceed');
    expect(renderError({ set: { 'drain.timeoutSeconds': '60' } })).toContain('must exceed');
  });

  it('runs every container as non-root, with a read-only root filesystem and every capability dropped', () => {
    for (const [variant, objects] of Object.entries(variants)) {
      const containers = chartContainers(objects);
      expect(containers.length, variant).toBeGreaterThanOrEqual(3);
      for (const { workload, container } of containers) {
        const where = `${variant} ${workload.metadata.name}/${container.name}`;
        const pod = podTemplate(workload).spec.securityContext ?? {};
        const sc = container.securityContext ?? {};
        expect(sc.runAsNonRoot ?? pod.runAsNonRoot, where).toBe(true);
        expect(sc.runAsUser ?? pod.runAsUser, where).not.toBe(0);
        expect(sc.readOnlyRootFilesystem, where).toBe(true);
        expect(sc.allowPrivilegeEscalation, where).toBe(false);
        expect(sc.capabilities?.drop, where).toContain('ALL');
        expect(sc.capabilities?.add ?? [], where).toEqual([]);
        expect(sc.privileged ?? false, where).toBe(false);
      }
    }
  });

  it('probes each service on the port that serves its /healthz and /readyz', () => {
    for (const [variant, objects] of Object.entries(variants)) {
      for (const component of ['gateway', 'worker', 'status-api']) {
        const container = podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers[0]!;
        const svc = CONTAINER_SERVICE[container.name]!;
        const adminPort = Number(configData(objects, component)[svc.adminPortVar]);
        const portNumber = (port: string | number | undefined) =>
          typeof port === 'number' ? port : container.ports?.find((p) => p.name === port)?.containerPort;
        const where = `${variant} ${component}`;
        expect(portNumber(container.livenessProbe?.httpGet?.port), where).toBe(adminPort);
        expect(portNumber(container.readinessProbe?.httpGet?.port), where).toBe(adminPort);
        expect(portNumber(container.startupProbe?.httpGet?.port), where).toBe(adminPort);
        expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
        expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
      }
    }
  });

  it('binds each admin port on every interface, where Prometheus and the kubelet probes reach it', () => {
    // The services default to loopback (a laptop): the chart has to say 0.0.0.0.
    expect(SERVICES.gateway.adminHost).toBe('127.0.0.1');
    expect(SERVICES['session-worker'].adminHost).toBe('127.0.0.1');
    for (const [variant, objects] of Object.entries(variants)) {
      for (const component of ['gateway', 'worker', 'status-api']) {
        const container = podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers[0]!;
        const svc = CONTAINER_SERVICE[container.name]!;
        const host = configData(objects, component)[svc.adminHostVar] ?? svc.adminHost;
        expect(host, `${variant} ${component}: ${svc.adminHostVar}`).toBe('0.0.0.0');
      }
    }
  });

  it('never renders the provider key in plain text, and Redis credentials only by reference', () => {
    const text = renderText(EVERYTHING);
    expect(text).not.toContain(API_KEY);
    const objects = variants.everything;
    const secret = find(objects, 'Secret', '-realtime-voice') as K8sObject & { data: Record<string, string> };
    expect(Buffer.from(secret.data.OPENAI_API_KEY!, 'base64').toString()).toBe(API_KEY);
    // Only through secretKeyRef, and the provider key only to workers.
    for (const { workload, container } of chartContainers(objects)) {
      const key = envEntry(container, 'OPENAI_API_KEY');
      if (container.name === 'session-worker') {
        expect(key?.valueFrom?.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'OPENAI_API_KEY' });
      } else {
        expect(key, workload.metadata.name).toBeUndefined();
      }
      if (CONTAINER_SERVICE[container.name]) {
        expect(envEntry(container, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
          name: 'managed-redis',
          key: 'redis-password',
        });
      }
    }
    // The URL is plain configuration: it carries no password (the schema refuses one).
    for (const component of ['gateway', 'worker', 'status-api'])
      expect(configData(objects, component).REDIS_URL).toBe('rediss://rtv@redis.internal:6380');
  });

  it('takes secrets from existing Secrets in production and renders no secret data', () => {
    const objects = variants.production;
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const container = (component: string) =>
      podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers[0]!;
    expect(envEntry(container('worker'), 'OPENAI_API_KEY')?.valueFrom?.secretKeyRef).toEqual({
      name: 'realtime-voice-provider',
      key: 'OPENAI_API_KEY',
    });
    for (const component of ['gateway', 'worker', 'status-api']) {
      expect(envEntry(container(component), 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
        name: 'realtime-voice-redis',
        key: 'redis-password',
      });
      // An external Redis Cluster: three seed nodes over TLS.
      expect(configData(objects, component)).toMatchObject({
        RTV_REDIS_MODE: 'cluster',
        REDIS_URL:
          'rediss://redis-0.redis.internal:6380,rediss://redis-1.redis.internal:6380,rediss://redis-2.redis.internal:6380',
      });
    }
    // JWT settings and the resume secret reach the gateways only.
    expect(container('gateway').envFrom).toContainEqual({ secretRef: { name: 'realtime-voice-auth' } });
    expect(JSON.stringify(container('worker').envFrom)).not.toContain('realtime-voice-auth');
    expect(envEntry(container('gateway'), 'OPENAI_API_KEY')).toBeUndefined();
  });

  it('rolls exactly the pods whose configuration or secrets changed (checksum annotations)', () => {
    const checksums = (objects: K8sObject[]) =>
      Object.fromEntries(
        ['gateway', 'worker', 'status-api'].map((c) => [
          c,
          podTemplate(find(objects, 'Deployment', `-${c}`)).metadata.annotations ?? {},
        ]),
      );
    const base = checksums(variants.default);
    for (const annotations of Object.values(base)) {
      expect(annotations['checksum/config']).toMatch(/^[0-9a-f]{64}$/);
      expect(annotations['checksum/secret']).toMatch(/^[0-9a-f]{64}$/);
    }
    const changed = (opts: Parameters<typeof render>[0], kind: 'config' | 'secret') => {
      const after = checksums(render(opts));
      return Object.keys(base)
        .filter((c) => after[c]![`checksum/${kind}`] !== base[c]![`checksum/${kind}`])
        .sort();
    };
    expect(changed({ set: { logLevel: 'debug' } }, 'config')).toEqual(['gateway', 'status-api', 'worker']);
    expect(changed({ set: { 'gateway.env.RTV_MAX_FRAME_BYTES': '2097152' } }, 'config')).toEqual(['gateway']);
    expect(changed({ set: { 'worker.capacity': '50' } }, 'config')).toEqual(['worker']);
    // A new provider key rolls only the workers: the gateways (holding client sockets) never mount it.
    expect(changed({ set: { 'provider.apiKey': API_KEY } }, 'secret')).toEqual(['worker']);
    expect(changed(AZURE_KEY_VALUE, 'secret')).toEqual(['worker']);
    // Rotating the Azure key given as a value rolls the workers again, and still only them.
    const rotated = checksums(
      render({ set: { ...AZURE_KEY_VALUE.set, 'provider.azure.apiKey': `${AZURE_KEY}2` } }),
    );
    const before = checksums(variants.azureKey);
    for (const c of ['gateway', 'status-api']) {
      expect(rotated[c]!['checksum/secret'], c).toBe(before[c]!['checksum/secret']);
      expect(rotated[c]!['checksum/config'], c).toBe(before[c]!['checksum/config']);
    }
    expect(rotated.worker!['checksum/secret']).not.toBe(before.worker!['checksum/secret']);
    // Switching provider is a worker configuration change only.
    expect(changed(AZURE_KEY_VALUE, 'config')).toEqual(['worker']);
    const externalRedis = {
      'redis.bundled.enabled': 'false',
      'redis.external.url': 'redis://redis:6379',
      'redis.external.existingSecret': 'redis-password',
    };
    expect(changed({ set: externalRedis }, 'secret')).toEqual(['gateway', 'status-api', 'worker']);
    expect(changed({ set: externalRedis }, 'config')).toEqual(['gateway', 'status-api', 'worker']);
    // Bringing your own resume secret concerns the gateways only.
    expect(changed({ set: { 'auth.existingSecret': 'auth' } }, 'secret')).toEqual(['gateway', 'status-api']);
  });

  it('sets only environment variables the services read', () => {
    for (const [variant, objects] of Object.entries(variants)) {
      for (const component of ['gateway', 'worker', 'status-api']) {
        const container = podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers[0]!;
        const svc = CONTAINER_SERVICE[container.name]!;
        const names = [
          ...Object.keys(configData(objects, component)),
          ...(container.env ?? []).map((e) => e.name),
        ];
        expect(
          names.filter((n) => !svc.env.has(n)),
          `${variant} ${component}`,
        ).toEqual([]);
      }
    }
  });

  it('wires Services, budgets, autoscalers, monitors and the Ingress to objects that exist', () => {
    for (const [variant, objects] of Object.entries(variants)) {
      const pods = workloads(objects).map((w) => podTemplate(w));
      const matches = (selector: Record<string, string>) =>
        pods.filter((p) => Object.entries(selector).every(([k, v]) => p.metadata.labels[k] === v));
      const services = objects.filter((o) => o.kind === 'Service') as (K8sObject & {
        spec: {
          selector: Record<string, string>;
          ports: { name: string; port: number; targetPort: string }[];
        };
      })[];
      for (const svc of services) {
        const selected = matches(svc.spec.selector);
        expect(selected, `${variant} Service ${svc.metadata.name}`).toHaveLength(1);
        const portNames = selected[0]!.spec.containers.flatMap((c) => (c.ports ?? []).map((p) => p.name));
        for (const port of svc.spec.ports) expect(portNames, svc.metadata.name).toContain(port.targetPort);
      }
      for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
        const selector = (pdb.spec as { selector: { matchLabels: Record<string, string> } }).selector
          .matchLabels;
        expect(matches(selector), `${variant} PDB ${pdb.metadata.name}`).toHaveLength(1);
      }
      for (const hpa of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')) {
        const target = (hpa.spec as { scaleTargetRef: { kind: string; name: string } }).scaleTargetRef;
        const deployment = find(objects, target.kind, target.name);
        // The HPA owns the replica count; a rendered one would fight it on every upgrade.
        expect((deployment.spec as { replicas?: number }).replicas, hpa.metadata.name).toBeUndefined();
      }
      for (const monitor of objects.filter((o) => o.kind === 'ServiceMonitor')) {
        const spec = monitor.spec as {
          selector: { matchLabels: Record<string, string> };
          endpoints: { port: string }[];
        };
        const selected = services.filter((s) =>
          Object.entries(spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
        );
        const scraped = selected.flatMap((s) =>
          s.spec.ports.filter((p) => p.name === spec.endpoints[0]!.port),
        );
        expect(scraped, `${variant} ServiceMonitor ${monitor.metadata.name}`).toHaveLength(1);
      }
      for (const ingress of objects.filter((o) => o.kind === 'Ingress')) {
        const rules = (
          ingress.spec as {
            rules: {
              http: { paths: { backend: { service: { name: string; port: { name: string } } } }[] };
            }[];
          }
        ).rules;
        for (const { backend } of rules.flatMap((r) => r.http.paths)) {
          const svc = services.find((s) => s.metadata.name === backend.service.name);
          expect(
            svc?.spec.ports.map((p) => p.name),
            backend.service.name,
          ).toContain(backend.service.port.name);
        }
      }
    }
  });

  it('routes the WebSocket path to the gateways and the seed status/health to the status API', () => {
    const ingress = find(variants.production, 'Ingress', '-realtime-voice');
    const annotations = ingress.metadata.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(
      3600,
    );
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(
      3600,
    );
    const paths = (
      ingress.spec as {
        rules: {
          http: { paths: { path: string; pathType: string; backend: { service: { name: string } } }[] };
        }[];
      }
    ).rules[0]!.http.paths.map((p) => [
      p.path,
      p.pathType,
      p.backend.service.name.replace(/^rtv-realtime-voice-/, ''),
    ]);
    expect(paths).toEqual([
      ['/api/v1/streaming/realtime/status', 'Exact', 'status-api'],
      ['/api/v1/streaming/realtime/health', 'Exact', 'status-api'],
      ['/api/v1/streaming/realtime', 'Prefix', 'gateway'],
    ]);
  });

  it('ships the alert rules and the Grafana dashboard from deploy/, scoped to the release', () => {
    const release = { name: 'rtv', namespace: 'voice' };
    const rule = find(variants.production, 'PrometheusRule', '-realtime-voice');
    expect((rule.spec as RuleFile).groups.length).toBeGreaterThan(0);
    expect(rule.spec as RuleFile).toEqual(scopedRules(release));

    const dashboards = find(variants.production, 'ConfigMap', '-dashboards') as K8sObject & {
      data: Record<string, string>;
    };
    expect(dashboards.metadata.labels?.grafana_dashboard).toBe('1');
    const dashboardDir = path.join(REPO_ROOT, 'deploy/grafana/dashboards');
    const files = readdirSync(dashboardDir).filter((f) => f.endsWith('.json'));
    expect(Object.keys(dashboards.data).sort()).toEqual(files.sort());
    for (const file of files) {
      expect(JSON.parse(dashboards.data[file]!)).toEqual(releaseDashboard(release, file));
    }
  });

  it('keeps every name a valid DNS label, even for the longest release name helm allows', () => {
    const objects = render({
      ...EVERYTHING,
      release: 'release-names-may-be-as-long-as-fifty-three-chars-okx',
    });
    const names = objects.map((o) => o.metadata.name);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(name).toMatch(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
    // Distinct objects of one kind keep distinct names after truncation.
    const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('warns in its install notes about every trial-only setting, and about none in production', () => {
    const notes = installNotes;
    const trial = notes(['--set', `provider.apiKey=${API_KEY}`, '--set', 'auth.allowAnonymous=true']);
    expect(trial).toContain('WARNING: the anonymous route');
    expect(trial).toContain('WARNING: Redis is the bundled single instance');
    expect(trial).toContain('WARNING: provider.apiKey was given as a value');
    expect(trial).not.toContain(API_KEY);
    expect(notes([])).toContain('workers run the built-in local engine');
    const production = notes(['--values', PRODUCTION_VALUES]);
    expect(production).not.toMatch(/WARNING|NOTE:/);
    expect(production).toContain('wss://voice.example.com/api/v1/streaming/realtime');
    const azureTrial = notes(setArgs(AZURE_KEY_VALUE.set));
    expect(azureTrial).toContain('WARNING: provider.azure.apiKey was given as a value');
    expect(azureTrial).not.toContain(AZURE_KEY);
    expect(notes(['--values', PRODUCTION_VALUES, ...setArgs(AZURE_SECRET.set)])).not.toMatch(/WARNING|NOTE:/);
  });

  it('says in its install notes which provider the workers use', () => {
    expect(installNotes([])).toContain('the built-in local engine');
    expect(installNotes(['--values', PRODUCTION_VALUES])).toContain(
      'OpenAI Realtime: model "gpt-realtime" at wss://api.openai.com/v1/realtime\n  credential: key from Secret realtime-voice-provider (key OPENAI_API_KEY)',
    );
    expect(installNotes(['--values', PRODUCTION_VALUES, ...setArgs(AZURE_SECRET.set)])).toContain(
      `Azure OpenAI: deployment "gpt-realtime" at ${AZURE_ENDPOINT}\n  credential: api key from Secret realtime-voice-azure-openai (key AZURE_OPENAI_API_KEY)`,
    );
    const tokenFile = withValuesFile(AZURE_TOKEN_FILE.values, (file) => installNotes(['--values', file]));
    expect(tokenFile).toContain('credential: Entra ID token file /var/run/azure-openai/token');
    expect(tokenFile).not.toContain('the built-in local engine');
  });

  it('says in its install notes how to run helm test and where the Redis exporter answers, when they are on', () => {
    const defaults = installNotes(['--set', 'auth.allowAnonymous=true']);
    expect(defaults).toContain('helm test voice -n voice --logs');
    // The exporter is on by default only with a ServiceMonitor.
    expect(defaults).not.toContain('redis-exporter');
    const production = installNotes(['--values', PRODUCTION_VALUES]);
    expect(production).toContain('helm test voice -n voice --logs');
    const exporter = installNotes([
      '--set',
      'auth.allowAnonymous=true',
      '--set',
      'redis.exporter.enabled=true',
    ]);
    expect(exporter).toContain('port-forward svc/voice-realtime-voice-redis-exporter 9121:9121');
    expect(exporter).toContain('curl http://localhost:9121/metrics');
    // No credential and no anonymous route: there is no test pod, so the notes do not offer one.
    expect(installNotes([])).not.toContain('helm test');
    expect(installNotes(['--set', 'auth.allowAnonymous=true', '--set', 'tests.enabled=false'])).not.toContain(
      'helm test',
    );
  });

  it('rejects values it does not know and contradictory Redis settings', () => {
    expect(renderError({ set: { 'gateway.replicaCout': '3' } })).toContain('replicaCout');
    expect(renderError({ set: { 'redis.external.url': 'redis://elsewhere:6379' } })).toContain(
      'set exactly one of redis.bundled.enabled or redis.external.url',
    );
    expect(renderError({ set: { 'redis.bundled.enabled': 'false' } })).toContain(
      'set exactly one of redis.bundled.enabled or redis.external.url',
    );
    expect(renderError({ set: { 'provider.apiKey': API_KEY, 'provider.existingSecret': 'k' } })).toContain(
      'not both',
    );
  });

  it('configures OpenAI by default, with no Azure variable anywhere', () => {
    for (const variant of ['default', 'production', 'everything'] as const) {
      const config = configData(variants[variant], 'worker');
      expect(config.RTV_PROVIDER, variant).toBe('openai');
      expect(config.RTV_PROVIDER_SHAPE, variant).toBe('ga');
      expect(config.OPENAI_REALTIME_MODEL, variant).toBe('gpt-realtime');
      expect(config.OPENAI_REALTIME_URL, variant).toBe('wss://api.openai.com/v1/realtime');
      const names = [
        ...Object.keys(config),
        ...(container(variants[variant], 'worker').env ?? []).map((e) => e.name),
      ];
      expect(
        names.filter((n) => n.startsWith('AZURE_')),
        variant,
      ).toEqual([]);
      expect(
        volumes(variants[variant], 'worker')
          .map((v) => v.name)
          .filter((n) => n !== 'redis-tls-ca'),
        variant,
      ).toEqual(['tmp']);
    }
    expect(renderText({ valuesFiles: [PRODUCTION_VALUES] })).not.toContain('AZURE');
  });

  it('configures Azure OpenAI with the key from an existing Secret, and no OpenAI setting', () => {
    const objects = variants.azureSecret;
    expect(configData(objects, 'worker')).toMatchObject({
      RTV_PROVIDER: 'azure',
      RTV_PROVIDER_SHAPE: 'ga',
      AZURE_OPENAI_ENDPOINT: AZURE_ENDPOINT,
      AZURE_OPENAI_DEPLOYMENT: 'gpt-realtime',
      // Below Azure's 30-minute session cap.
      RTV_PROVIDER_RENEW_MS: '1680000',
    });
    const config = configData(objects, 'worker');
    for (const name of [
      'OPENAI_REALTIME_MODEL',
      'OPENAI_REALTIME_URL',
      'AZURE_OPENAI_API_KEY',
      'OPENAI_API_KEY',
    ])
      expect(config[name], name).toBeUndefined();
    expect(config.AZURE_OPENAI_AD_TOKEN_FILE).toBeUndefined();
    const worker = container(objects, 'worker');
    expect(envEntry(worker, 'AZURE_OPENAI_API_KEY')?.valueFrom).toEqual({
      secretKeyRef: { name: 'realtime-voice-azure-openai', key: 'AZURE_OPENAI_API_KEY' },
    });
    expect(envEntry(worker, 'OPENAI_API_KEY')).toBeUndefined();
    expect(envEntry(worker, 'AZURE_OPENAI_AD_TOKEN_FILE')).toBeUndefined();
    // Every credential comes from an existing Secret: the chart renders none.
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    expect(volumes(objects, 'worker').map((v) => v.name)).toEqual(['tmp']);
    // Another key name in the Secret.
    const renamed = render({
      ...AZURE_SECRET,
      set: { ...AZURE_SECRET.set, 'provider.azure.existingSecretKey': 'api-key' },
    });
    expect(envEntry(container(renamed, 'worker'), 'AZURE_OPENAI_API_KEY')?.valueFrom).toEqual({
      secretKeyRef: { name: 'realtime-voice-azure-openai', key: 'api-key' },
    });
  });

  it('stores an Azure key given as a value in its Secret only, for the workers only', () => {
    expect(renderText(AZURE_KEY_VALUE)).not.toContain(AZURE_KEY);
    const objects = variants.azureKey;
    const secret = find(objects, 'Secret', '-realtime-voice') as K8sObject & { data: Record<string, string> };
    expect(Object.keys(secret.data)).toEqual(['AZURE_OPENAI_API_KEY']);
    expect(Buffer.from(secret.data.AZURE_OPENAI_API_KEY!, 'base64').toString()).toBe(AZURE_KEY);
    const worker = container(objects, 'worker');
    expect(envEntry(worker, 'AZURE_OPENAI_API_KEY')?.valueFrom).toEqual({
      secretKeyRef: { name: secret.metadata.name, key: 'AZURE_OPENAI_API_KEY' },
    });
    expect(envEntry(worker, 'OPENAI_API_KEY')).toBeUndefined();
    expect(configData(objects, 'worker').RTV_PROVIDER).toBe('azure');
  });

  it('mounts the Entra ID token file volume on the workers, read-only and as a whole directory', async () => {
    const objects = variants.azureTokenFile;
    const config = configData(objects, 'worker');
    expect(config.RTV_PROVIDER).toBe('azure');
    expect(config.AZURE_OPENAI_AD_TOKEN_FILE).toBe('/var/run/azure-openai/token');
    const pod = podTemplate(find(objects, 'Deployment', '-worker'));
    const worker = pod.spec.containers[0]!;
    expect(envEntry(worker, 'AZURE_OPENAI_API_KEY')).toBeUndefined();
    expect(envEntry(worker, 'OPENAI_API_KEY')).toBeUndefined();
    expect(objects.filter((o) => o.kind === 'Secret' && o.metadata.name.endsWith('-realtime-voice'))).toEqual(
      [],
    );
    expect(pod.spec.volumes).toContainEqual({
      name: 'azure-openai-token',
      emptyDir: { medium: 'Memory', sizeLimit: '1Mi' },
    });
    // The directory, not a subPath: a subPath mount would never see the file the refresher replaces.
    expect(worker.volumeMounts).toContainEqual({
      name: 'azure-openai-token',
      mountPath: '/var/run/azure-openai',
      readOnly: true,
    });
    // The sidecar that writes the token runs next to the worker and shares the volume.
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['session-worker', 'token-refresher']);
    expect(pod.spec.containers[1]!.volumeMounts).toEqual(TOKEN_SIDECAR.volumeMounts);

    // Any volume source, e.g. a projected Secret that another controller keeps fresh, at any path.
    const projected = {
      sources: [{ secret: { name: 'aoai-token', items: [{ key: 'token', path: 'token' }] } }],
    };
    const other = render({
      values: {
        provider: {
          kind: 'azure',
          azure: {
            endpoint: AZURE_ENDPOINT,
            deployment: 'voice',
            tokenFile: { enabled: true, path: '/var/run/secrets/aoai/token', volume: { projected } },
          },
        },
      },
    });
    expect(configData(other, 'worker').AZURE_OPENAI_AD_TOKEN_FILE).toBe('/var/run/secrets/aoai/token');
    expect(volumes(other, 'worker')).toContainEqual({ name: 'azure-openai-token', projected });
    expect(container(other, 'worker').volumeMounts).toContainEqual({
      name: 'azure-openai-token',
      mountPath: '/var/run/secrets/aoai',
      readOnly: true,
    });
    const csi = {
      driver: 'token.example.com',
      readOnly: true,
      volumeAttributes: { audience: 'cognitiveservices' },
    };
    const withCsi = render({
      values: {
        provider: {
          kind: 'azure',
          azure: {
            endpoint: AZURE_ENDPOINT,
            deployment: 'voice',
            tokenFile: { enabled: true, volume: { csi } },
          },
        },
      },
    });
    expect(volumes(withCsi, 'worker')).toContainEqual({ name: 'azure-openai-token', csi });
    const problems = (await Promise.all([...other, ...withCsi].map((o) => validateK8sObject(o)))).flat();
    expect(problems).toEqual([]);
  });

  it('never gives the gateways or the status API a provider setting, secret or volume', () => {
    for (const [variant, objects] of Object.entries(variants)) {
      for (const component of ['gateway', 'status-api']) {
        const where = `${variant} ${component}`;
        const c = container(objects, component);
        const names = [...Object.keys(configData(objects, component)), ...(c.env ?? []).map((e) => e.name)];
        expect(
          names.filter((n) => PROVIDER_VAR.test(n)),
          where,
        ).toEqual([]);
        const secretRefs = JSON.stringify([c.env, c.envFrom]);
        for (const secret of ['realtime-voice-provider', 'realtime-voice-azure-openai'])
          expect(secretRefs, where).not.toContain(secret);
        // The chart Secret (provider keys given as values) never reaches them.
        const chartSecretKeys = (c.env ?? [])
          .filter((e) => e.valueFrom?.secretKeyRef?.name?.endsWith('-realtime-voice'))
          .map((e) => e.valueFrom!.secretKeyRef!.key);
        expect(chartSecretKeys, where).toEqual([]);
        expect(
          volumes(objects, component)
            .map((v: Volume) => v.name)
            .filter((n) => n !== 'redis-tls-ca'),
          where,
        ).toEqual(['tmp']);
        expect(
          podTemplate(find(objects, 'Deployment', `-${component}`)).spec.containers.map((x) => x.name),
          where,
        ).toEqual([c.name]);
      }
    }
  });

  it('refuses contradictory provider settings', () => {
    const azureWith = (set: Record<string, string>) => renderError({ set: { ...AZURE, ...set } });
    const key = { 'provider.azure.apiKey': AZURE_KEY };
    expect(
      renderError({ set: { 'provider.kind': 'azure', 'provider.azure.endpoint': AZURE_ENDPOINT, ...key } }),
    ).toContain('provider.kind=azure needs provider.azure.deployment');
    expect(
      renderError({ set: { 'provider.kind': 'azure', 'provider.azure.deployment': 'gpt-realtime', ...key } }),
    ).toContain('provider.kind=azure needs provider.azure.endpoint');
    expect(azureWith({})).toContain('needs exactly one credential');
    const tokenFile = {
      'provider.azure.tokenFile.enabled': 'true',
      'provider.azure.tokenFile.volume.emptyDir.medium': 'Memory',
    };
    const both = azureWith({ ...key, ...tokenFile });
    expect(both).toContain('needs exactly one credential');
    expect(both).toContain('set: provider.azure.apiKey, provider.azure.tokenFile.enabled');
    expect(azureWith({ ...key, 'provider.azure.existingSecret': 'aoai' })).toContain(
      'needs exactly one credential',
    );
    expect(azureWith({ 'provider.azure.tokenFile.enabled': 'true' })).toContain(
      'provider.azure.tokenFile.enabled needs provider.azure.tokenFile.volume',
    );
    // Azure settings without provider.kind=azure, as the worker itself refuses AZURE_* without RTV_PROVIDER=azure.
    expect(renderError({ set: { 'provider.azure.endpoint': AZURE_ENDPOINT, ...key } })).toContain(
      'provider.azure.endpoint, provider.azure.apiKey set but provider.kind is openai',
    );
    expect(renderError({ set: { 'provider.azure.existingSecret': 'aoai' } })).toContain(
      'set but provider.kind is openai',
    );
    expect(renderError({ set: { 'provider.azure.deployment': 'gpt-realtime' } })).toContain(
      'provider.azure.deployment set but provider.kind is openai',
    );
    expect(renderError({ set: tokenFile })).toContain(
      'provider.azure.tokenFile.enabled set but provider.kind is openai',
    );
    // The OpenAI key with Azure (the production values' Secret left in place).
    expect(
      renderError({
        valuesFiles: [PRODUCTION_VALUES],
        set: { ...AZURE, 'provider.azure.existingSecret': 'aoai' },
      }),
    ).toContain('provider.kind=azure: unset provider.apiKey and provider.existingSecret');
    expect(azureWith({ ...key, 'provider.apiKey': API_KEY })).toContain(
      'provider.kind=azure: unset provider.apiKey',
    );
    expect(azureWith({ ...key, 'provider.shape': 'beta' })).toContain('GA shape only');
    expect(azureWith({ ...key, 'provider.azure.endpoint': `${AZURE_ENDPOINT}/openai/v1` })).toContain(
      'give the resource endpoint only',
    );
    expect(azureWith({ ...key, 'provider.azure.endpoint': 'http://voice-eu.openai.azure.com' })).toContain(
      '/provider/azure/endpoint',
    );
    expect(azureWith({ ...key, 'provider.azure.renewMs': '1800000' })).toContain('/provider/azure/renewMs');
    expect(renderError({ set: { 'provider.kind': 'Azure' } })).toContain('/provider/kind');
    // Provider variables only through provider.*: never a key in a ConfigMap, never an override of the checks.
    expect(renderError({ set: { 'worker.env.AZURE_OPENAI_API_KEY': AZURE_KEY } })).toContain(
      'worker.env.AZURE_OPENAI_API_KEY: provider variables are set through provider.*',
    );
    expect(renderError({ set: { 'worker.env.RTV_PROVIDER': 'azure' } })).toContain('worker.env.RTV_PROVIDER');
    expect(
      renderError({
        values: {
          worker: {
            extraEnv: [
              { name: 'OPENAI_API_KEY', valueFrom: { secretKeyRef: { name: 'k', key: 'OPENAI_API_KEY' } } },
            ],
          },
        },
      }),
    ).toContain('worker.extraEnv OPENAI_API_KEY');
    expect(azureWith({ ...key, 'worker.env.RTV_PROVIDER_RENEW_MS': '600000' })).toContain(
      'worker.env.RTV_PROVIDER_RENEW_MS',
    );
    // With OpenAI the renewal stays a plain worker setting.
    expect(
      configData(render({ set: { 'worker.env.RTV_PROVIDER_RENEW_MS': '600000' } }), 'worker')
        .RTV_PROVIDER_RENEW_MS,
    ).toBe('600000');
  });
});

/** Seed nodes of a Redis Cluster and the sentinels of a Sentinel setup, as `host:port`. */
const CLUSTER_NODES = [
  'redis-0.redis.internal:6380',
  'redis-1.redis.internal:6380',
  'redis-2.redis.internal:6380',
];
const SENTINELS = ['sentinel-0.redis:26379', 'sentinel-1.redis:26379', 'sentinel-2.redis:26379'];
const externalRedis = (external: Record<string, unknown>) => ({
  values: { redis: { bundled: { enabled: false }, external } },
});

/** An external Redis in each mode, and what every service must get from it. */
const REDIS_MODES: Record<
  string,
  {
    opts: Parameters<typeof render>[0];
    mode: string;
    url: string;
    master?: string;
    password?: { name: string; key: string };
    sentinelPassword?: { name: string; key: string };
  }
> = {
  single: {
    opts: externalRedis({ url: 'rediss://rtv@redis.internal:6380', existingSecret: 'redis-pw' }),
    mode: 'single',
    url: 'rediss://rtv@redis.internal:6380',
    password: { name: 'redis-pw', key: 'redis-password' },
  },
  clusterTls: {
    opts: externalRedis({
      mode: 'cluster',
      cluster: { nodes: CLUSTER_NODES },
      tls: true,
      existingSecret: 'redis-pw',
    }),
    mode: 'cluster',
    url: CLUSTER_NODES.map((node) => `rediss://${node}`).join(','),
    password: { name: 'redis-pw', key: 'redis-password' },
  },
  clusterUrls: {
    opts: externalRedis({
      mode: 'cluster',
      cluster: { nodes: ['redis://rtv@10.0.0.11:7000', 'redis://rtv@10.0.0.12:7000'] },
      existingSecret: 'redis-pw',
      existingSecretKey: 'pw',
    }),
    mode: 'cluster',
    url: 'redis://rtv@10.0.0.11:7000,redis://rtv@10.0.0.12:7000',
    password: { name: 'redis-pw', key: 'pw' },
  },
  sentinel: {
    opts: externalRedis({
      mode: 'sentinel',
      sentinel: {
        sentinels: SENTINELS,
        masterName: 'voice-master',
        existingSecret: 'sentinel-pw',
        existingSecretKey: 'password',
      },
      existingSecret: 'redis-pw',
    }),
    mode: 'sentinel',
    url: SENTINELS.map((s) => `redis://${s}`).join(','),
    master: 'voice-master',
    password: { name: 'redis-pw', key: 'redis-password' },
    sentinelPassword: { name: 'sentinel-pw', key: 'password' },
  },
  // Sentinels without a password of their own, over TLS with a private CA, a data password only.
  sentinelTls: {
    opts: externalRedis({
      mode: 'sentinel',
      sentinel: { sentinels: ['rediss://sentinel-0.redis:26380', '[fd00::7]:26380'], masterName: 'mymaster' },
      tls: true,
      tlsCaSecret: 'redis-ca',
      existingSecret: 'redis-pw',
    }),
    mode: 'sentinel',
    url: 'rediss://sentinel-0.redis:26380,rediss://[fd00::7]:26380',
    master: 'mymaster',
    password: { name: 'redis-pw', key: 'redis-password' },
  },
};

const LOADERS: Record<
  string,
  (env: Record<string, string>) => { RTV_REDIS_MODE: string; REDIS_URL: string }
> = {
  gateway: loadGatewayConfig,
  worker: loadWorkerConfig,
  'status-api': loadStatusConfig,
};

describe('helm chart: an external Redis as one endpoint, a Redis Cluster or Sentinel', () => {
  let rendered: Record<string, K8sObject[]>;

  beforeAll(() => {
    rendered = Object.fromEntries(Object.entries(REDIS_MODES).map(([name, m]) => [name, render(m.opts)]));
  }, 120_000);

  it('gives every service the mode, the endpoints joined into REDIS_URL, the master and both passwords by reference', async () => {
    for (const [name, expected] of Object.entries(REDIS_MODES)) {
      const objects = rendered[name]!;
      for (const component of ['gateway', 'worker', 'status-api']) {
        const where = `${name} ${component}`;
        const config = configData(objects, component);
        expect(config.RTV_REDIS_MODE, where).toBe(expected.mode);
        expect(config.REDIS_URL, where).toBe(expected.url);
        expect(config.RTV_REDIS_SENTINEL_MASTER, where).toBe(expected.master);
        const c = container(objects, component);
        expect(envEntry(c, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef, where).toEqual(expected.password);
        expect(envEntry(c, 'RTV_REDIS_SENTINEL_PASSWORD')?.valueFrom?.secretKeyRef, where).toEqual(
          expected.sentinelPassword,
        );
        // No password in plain configuration; the sentinels' one only ever through its Secret.
        expect(
          Object.keys(config).filter((k) => /PASSWORD/.test(k)),
          where,
        ).toEqual([]);
        // What the services themselves make of it: their config schema accepts it, the topology matches.
        const loaded = LOADERS[component]!(config);
        expect([loaded.RTV_REDIS_MODE, loaded.REDIS_URL], where).toEqual([expected.mode, expected.url]);
        expect(redisTopologyFromEnv(config), where).toEqual({
          mode: expected.mode,
          ...(expected.master ? { sentinelMaster: expected.master } : {}),
        });
      }
      // The external Redis replaces the bundled one: no StatefulSet, no generated password, no policy for it.
      expect(
        objects.filter((o) => o.metadata.name.endsWith('-redis') || o.metadata.name.endsWith('-redis-auth')),
        name,
      ).toEqual([]);
      const problems = (await Promise.all(objects.map((o) => validateK8sObject(o)))).flat();
      expect(problems, name).toEqual([]);
    }
    // The CA reaches every service with TLS to the sentinels and the master.
    for (const component of ['gateway', 'worker', 'status-api'])
      expect(configData(rendered.sentinelTls!, component).RTV_REDIS_TLS_CA_FILE).toBe(
        '/etc/rtv/redis-tls/ca.crt',
      );
  });

  it('sets only variables the services read, and passes helm lint --strict, in every mode', () => {
    for (const [name, objects] of Object.entries(rendered)) {
      for (const component of ['gateway', 'worker', 'status-api']) {
        const c = container(objects, component);
        const svc = CONTAINER_SERVICE[c.name]!;
        const names = [...Object.keys(configData(objects, component)), ...(c.env ?? []).map((e) => e.name)];
        expect(
          names.filter((n) => !svc.env.has(n)),
          `${name} ${component}`,
        ).toEqual([]);
      }
    }
    for (const name of ['clusterTls', 'sentinel']) {
      withValuesFile(REDIS_MODES[name]!.opts!.values!, (file) => {
        const res = helm(['lint', '--strict', CHART_DIR, '--values', file]);
        expect(res.stdout, name).toContain('0 chart(s) failed');
      });
    }
  });

  it('rolls every service when the Redis topology or the sentinels’ Secret changes', () => {
    const annotations = (objects: K8sObject[]) =>
      ['gateway', 'worker', 'status-api'].map(
        (c) => podTemplate(find(objects, 'Deployment', `-${c}`)).metadata.annotations ?? {},
      );
    const sentinel = annotations(rendered.sentinel!);
    const single = annotations(rendered.single!);
    const otherMaster = annotations(
      render({
        values: {
          redis: {
            bundled: { enabled: false },
            external: {
              mode: 'sentinel',
              sentinel: { sentinels: SENTINELS, masterName: 'other', existingSecret: 'sentinel-pw-2' },
              existingSecret: 'redis-pw',
            },
          },
        },
      }),
    );
    for (let i = 0; i < 3; i++) {
      expect(sentinel[i]!['checksum/config']).not.toBe(single[i]!['checksum/config']);
      expect(sentinel[i]!['checksum/secret']).not.toBe(single[i]!['checksum/secret']);
      expect(otherMaster[i]!['checksum/config']).not.toBe(sentinel[i]!['checksum/config']);
      expect(otherMaster[i]!['checksum/secret']).not.toBe(sentinel[i]!['checksum/secret']);
    }
  });

  it('says in its install notes which Redis the services use', () => {
    expect(installNotes([])).toMatch(
      /RTV_REDIS_MODE=single\):\n {2}the bundled single instance voice-realtime-voice-redis/,
    );
    expect(installNotes(['--values', PRODUCTION_VALUES])).toContain(
      `RTV_REDIS_MODE=cluster):\n  Redis Cluster, seed nodes ${REDIS_MODES.clusterTls!.url}`,
    );
    const sentinel = withValuesFile(REDIS_MODES.sentinel!.opts!.values!, (file) =>
      installNotes(['--values', file]),
    );
    expect(sentinel).toContain(
      `RTV_REDIS_MODE=sentinel):\n  master "voice-master" found through the sentinels ${REDIS_MODES.sentinel!.url}`,
    );
    expect(sentinel).not.toMatch(/WARNING/);
  });

  it('refuses Redis settings that contradict the mode or each other, naming the values', () => {
    const external = (values: Record<string, unknown>) => renderError(externalRedis(values));
    const cluster = (values: Record<string, unknown>) =>
      external({ mode: 'cluster', cluster: { nodes: CLUSTER_NODES }, ...values });
    const sentinel = { sentinels: SENTINELS, masterName: 'voice-master' };
    // Required per mode.
    expect(external({ mode: 'cluster' })).toContain(
      'redis.external.mode=cluster needs redis.external.cluster.nodes: at least one seed node',
    );
    expect(external({ mode: 'sentinel', sentinel: { masterName: 'm' } })).toContain(
      'redis.external.mode=sentinel needs redis.external.sentinel.sentinels',
    );
    expect(external({ mode: 'sentinel', sentinel: { sentinels: SENTINELS } })).toContain(
      'redis.external.mode=sentinel needs redis.external.sentinel.masterName',
    );
    // The bundled Redis is a single instance, and only one Redis serves a release.
    expect(
      renderError({
        values: { redis: { external: { mode: 'cluster', cluster: { nodes: CLUSTER_NODES } } } },
      }),
    ).toContain('redis.external.mode=cluster needs redis.bundled.enabled=false');
    expect(renderError({ values: { redis: { external: { mode: 'sentinel', sentinel } } } })).toContain(
      'redis.external.mode=sentinel needs redis.bundled.enabled=false',
    );
    expect(renderError({ values: { redis: { external: { tls: true } } } })).toContain(
      'the bundled Redis takes its password from redis.auth',
    );
    // Settings of another mode.
    expect(cluster({ url: 'redis://redis:6379' })).toContain(
      'redis.external.url is the endpoint of mode single; with redis.external.mode=cluster list them in redis.external.cluster.nodes',
    );
    expect(external({ url: 'redis://redis:6379', cluster: { nodes: CLUSTER_NODES } })).toContain(
      'redis.external.cluster.nodes set but redis.external.mode is single',
    );
    expect(cluster({ sentinel: { masterName: 'm', existingSecret: 's' } })).toContain(
      'redis.external.sentinel.masterName, redis.external.sentinel.existingSecret set but redis.external.mode is cluster',
    );
    // Endpoints that disagree: the services connect to all of them as to the first.
    expect(cluster({ cluster: { nodes: ['a.redis:6379', 'rediss://b.redis:6379'] } })).toContain(
      'redis.external.cluster.nodes mixes redis:// and rediss://',
    );
    expect(cluster({ cluster: { nodes: ['redis://a.redis:6379'] }, tls: true })).toContain(
      'redis.external.tls=true but redis.external.cluster.nodes is redis://',
    );
    expect(external({ url: 'redis://redis:6379', tls: true })).toContain(
      'redis.external.tls=true but redis.external.url is redis://',
    );
    expect(external({ mode: 'sentinel', sentinel, tlsCaSecret: 'ca' })).toContain(
      'redis.external.tlsCaSecret needs a rediss:// URL (redis.external.sentinel.sentinels is redis://)',
    );
    expect(cluster({ cluster: { nodes: ['redis://rtv@a.redis:6379', 'redis://b.redis:6379'] } })).toContain(
      'redis.external.cluster.nodes name different ACL users',
    );
    // The shape of each value (values.schema.json): no password in an endpoint, a port on every host.
    expect(cluster({ cluster: { nodes: ['redis://:secret@a.redis:6379'] } })).toContain(
      "at '/redis/external/cluster/nodes/0'",
    );
    expect(cluster({ cluster: { nodes: ['a.redis'] } })).toContain("at '/redis/external/cluster/nodes/0'");
    expect(
      external({ mode: 'sentinel', sentinel: { ...sentinel, sentinels: ['redis://rtv@s.redis:26379'] } }),
    ).toContain("at '/redis/external/sentinel/sentinels/0'");
    expect(external({ mode: 'sentinel', sentinel: { ...sentinel, masterName: 'my master' } })).toContain(
      "at '/redis/external/sentinel/masterName'",
    );
    expect(external({ url: 'redis://a.redis:6379,redis://b.redis:6379' })).toContain(
      "at '/redis/external/url'",
    );
    expect(external({ mode: 'Cluster' })).toContain("at '/redis/external/mode'");
    // A prefix with a hash tag would pin every key to one slot: the schema refuses it, and the templates too
    // for tools that skip the schema.
    expect(renderError({ values: { redis: { prefix: '{rtv}' } } })).toContain("at '/redis/prefix'");
    const skipped = withValuesFile({ redis: { prefix: '{rtv}' } }, (file) =>
      helm(['template', 'rtv', CHART_DIR, '--skip-schema-validation', '--values', file]),
    );
    expect(skipped.status).not.toBe(0);
    expect(skipped.stderr).toContain('redis.prefix="{rtv}": no braces');
  });
});
