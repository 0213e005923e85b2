import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  CHART_DIR,
  type Container,
  find,
  type K8sObject,
  PRODUCTION_VALUES,
  podTemplate,
  render,
  renderError,
} from './support/helm.js';
import { validateK8sObject } from './support/k8s-schema.js';

// What an operator runs the chart with besides the services: the drain limit, the Redis exporter, the
// `helm test` hook, scaling the workers on sessions (KEDA or an External metric), and the chart's metadata.
// Rendered by the real helm and judged on the YAML.

type ConfigMap = K8sObject & { data: Record<string, string> };
type PodObject = K8sObject & {
  spec: {
    restartPolicy: string;
    securityContext: Record<string, unknown>;
    containers: (Container & { command?: string[]; args: string[] })[];
  };
};
interface Endpoint {
  port: string;
  path: string;
  params?: Record<string, string[]>;
  relabelings?: { targetLabel: string; replacement: string }[];
}
interface Peer {
  podSelector?: { matchLabels?: Record<string, string>; matchExpressions?: { values: string[] }[] };
  namespaceSelector?: unknown;
}
type Policy = K8sObject & { spec: { ingress: { from?: Peer[]; ports: { port: string }[] }[] } };

const SERVICES = ['gateway', 'worker', 'status-api'];
const MONITORING = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };
const config = (objects: K8sObject[], component: string) =>
  (find(objects, 'ConfigMap', `-${component}`) as ConfigMap).data;
const has = (objects: K8sObject[], kind: string, suffix: string) =>
  objects.some((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const exporterContainer = (objects: K8sObject[]) =>
  podTemplate(find(objects, 'Deployment', '-redis-exporter')).spec.containers[0]!;
const envValue = (c: Container, name: string) => c.env?.find((e) => e.name === name);
const redisArgs = (objects: K8sObject[]) =>
  (podTemplate(find(objects, 'StatefulSet', '-redis')).spec.containers[0] as unknown as { args: string[] })
    .args;
const aclUsers = (args: string[]) => args.flatMap((arg, i) => (arg === '--user' ? [args[i + 1]] : []));
const endpoints = (objects: K8sObject[]) =>
  (find(objects, 'ServiceMonitor', '-redis-exporter').spec as { endpoints: Endpoint[] }).endpoints;
const testPod = (objects: K8sObject[]) => find(objects, 'Pod', '-test-text-turn') as PodObject;
const argAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

async function schemaProblems(objects: K8sObject[]) {
  return (await Promise.all(objects.map((o) => validateK8sObject(o)))).flat();
}

describe('drain.timeoutSeconds reaches the services as RTV_SHUTDOWN_TIMEOUT_S', () => {
  it('sets it on gateways, workers and the status API, from the value', () => {
    const defaults = render();
    for (const component of SERVICES) expect(config(defaults, component).RTV_SHUTDOWN_TIMEOUT_S).toBe('30');
    const longer = render({
      values: {
        drain: { timeoutSeconds: 50 },
        gateway: { terminationGracePeriodSeconds: 70 },
        worker: { terminationGracePeriodSeconds: 60 },
        statusApi: { terminationGracePeriodSeconds: 60 },
      },
    });
    for (const component of SERVICES) expect(config(longer, component).RTV_SHUTDOWN_TIMEOUT_S).toBe('50');
  });

  it('checks the status API grace period against it too', () => {
    expect(renderError({ set: { 'statusApi.terminationGracePeriodSeconds': '30' } })).toContain(
      'statusApi.terminationGracePeriodSeconds (30) must exceed drain.timeoutSeconds + statusApi.preStopSleepSeconds (35)',
    );
  });
});

describe('redis.exporter', () => {
  let onByDefault: K8sObject[];
  let external: K8sObject[];
  let cluster: K8sObject[];

  beforeAll(() => {
    onByDefault = render({ set: { 'metrics.serviceMonitor.enabled': 'true' } });
    external = render({
      set: {
        'redis.bundled.enabled': 'false',
        'redis.external.url': 'rediss://rtv@redis.internal:6380',
        'redis.external.existingSecret': 'managed-redis',
        'redis.external.tlsCaSecret': 'managed-redis-ca',
        'redis.exporter.enabled': 'true',
        'metrics.serviceMonitor.enabled': 'true',
      },
    });
    cluster = render({ valuesFiles: [PRODUCTION_VALUES], set: { 'redis.exporter.enabled': 'true' } });
  }, 120_000);

  it('is on with the bundled Redis and ServiceMonitors, off otherwise unless asked for', () => {
    expect(has(onByDefault, 'Deployment', '-redis-exporter')).toBe(true);
    expect(has(onByDefault, 'Service', '-redis-exporter')).toBe(true);
    expect(has(onByDefault, 'ServiceMonitor', '-redis-exporter')).toBe(true);
    for (const objects of [
      render(),
      render({ valuesFiles: [PRODUCTION_VALUES] }),
      render({ set: { 'metrics.serviceMonitor.enabled': 'true', 'redis.exporter.enabled': 'false' } }),
    ]) {
      expect(objects.filter((o) => o.metadata.name.endsWith('-redis-exporter'))).toEqual([]);
      if (has(objects, 'StatefulSet', '-redis'))
        expect(aclUsers(redisArgs(objects))).toEqual(['default', 'rtv']);
    }
    // Without ServiceMonitors but asked for: the Deployment and Service, for another scraper.
    const plain = render({ set: { 'redis.exporter.enabled': 'true' } });
    expect(has(plain, 'Service', '-redis-exporter')).toBe(true);
    expect(has(plain, 'ServiceMonitor', '-redis-exporter')).toBe(false);
  });

  it('logs in to the bundled Redis as its own ACL user, with the services’ password Secret, reading no key', () => {
    const args = redisArgs(onByDefault);
    expect(aclUsers(args)).toEqual(['default', 'rtv', 'rtv-exporter']);
    const rule = args.slice(args.lastIndexOf('--user') + 1);
    expect(rule.slice(0, 4)).toEqual(['rtv-exporter', 'on', '>$(REDIS_PASSWORD)', '-@all']);
    expect(rule).toContain('+info');
    expect(rule).toContain('+config|get');
    expect(rule.some((r) => r.startsWith('~') || r.startsWith('%') || r === '+@all')).toBe(false);
    const container = exporterContainer(onByDefault);
    expect(container.image).toBe('oliver006/redis_exporter:v1.67.0');
    expect(envValue(container, 'REDIS_USER')?.value).toBe('rtv-exporter');
    expect(envValue(container, 'REDIS_ADDR')?.value).toBe('redis://rtv-realtime-voice-redis:6379');
    const gateway = podTemplate(find(onByDefault, 'Deployment', '-gateway')).spec.containers[0]!;
    expect(envValue(container, 'REDIS_PASSWORD')?.valueFrom).toEqual(
      envValue(gateway, 'REDIS_PASSWORD')?.valueFrom,
    );
    expect(envValue(container, 'REDIS_PASSWORD')?.value).toBeUndefined();
  });

  it('scrapes each Redis endpoint through /scrape, labelled with the Redis address', () => {
    expect(endpoints(onByDefault)).toEqual([
      expect.objectContaining({
        port: 'metrics',
        path: '/scrape',
        params: { target: ['redis://rtv-realtime-voice-redis:6379'] },
        relabelings: [{ targetLabel: 'instance', replacement: 'rtv-realtime-voice-redis:6379' }],
      }),
    ]);
    // An external Redis: its URL without the user, who logs in apart (REDIS_USER), with the CA mounted.
    expect(endpoints(external).map((e) => e.params?.target)).toEqual([['rediss://redis.internal:6380']]);
    const container = exporterContainer(external);
    expect(envValue(container, 'REDIS_USER')?.value).toBe('rtv');
    expect(envValue(container, 'REDIS_ADDR')?.value).toBe('rediss://redis.internal:6380');
    expect(envValue(container, 'REDIS_PASSWORD')?.valueFrom?.secretKeyRef).toEqual({
      name: 'managed-redis',
      key: 'redis-password',
    });
    expect(envValue(container, 'REDIS_EXPORTER_TLS_CA_CERT_FILE')?.value).toBe('/etc/rtv/redis-tls/ca.crt');
    expect(container.volumeMounts).toContainEqual({
      name: 'redis-tls-ca',
      mountPath: '/etc/rtv/redis-tls',
      readOnly: true,
    });
    // A Redis Cluster: every seed node, in cluster mode.
    expect(endpoints(cluster).map((e) => e.params?.target?.[0])).toEqual([
      'rediss://redis-0.redis.internal:6380',
      'rediss://redis-1.redis.internal:6380',
      'rediss://redis-2.redis.internal:6380',
    ]);
    expect(envValue(exporterContainer(cluster), 'REDIS_EXPORTER_IS_CLUSTER')?.value).toBe('true');
  });

  it('is refused with Sentinel, whose master moves', () => {
    const err = renderError({
      values: {
        redis: {
          bundled: { enabled: false },
          exporter: { enabled: true },
          external: { mode: 'sentinel', sentinel: { sentinels: ['s-0:26379'], masterName: 'mymaster' } },
        },
      },
    });
    expect(err).toContain('redis.exporter.enabled with redis.external.mode=sentinel');
  });

  it('may reach Redis through the NetworkPolicy, and is reached only from the monitoring namespace', () => {
    const redis = find(onByDefault, 'NetworkPolicy', '-redis') as Policy;
    expect(redis.spec.ingress[0]!.from![0]!.podSelector!.matchExpressions![0]!.values).toEqual([
      'gateway',
      'worker',
      'status-api',
      'redis-exporter',
    ]);
    const own = find(onByDefault, 'NetworkPolicy', '-redis-exporter') as Policy;
    expect(own.spec.ingress).toEqual([{ from: [MONITORING], ports: [{ port: 'metrics', protocol: 'TCP' }] }]);
  });

  it('renders objects valid against the schemas, its container non-root and read-only', async () => {
    for (const objects of [onByDefault, external, cluster]) expect(await schemaProblems(objects)).toEqual([]);
    for (const objects of [onByDefault, external]) {
      const pod = podTemplate(find(objects, 'Deployment', '-redis-exporter')).spec;
      const sc = pod.containers[0]!.securityContext!;
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(sc.readOnlyRootFilesystem).toBe(true);
      expect(sc.allowPrivilegeEscalation).toBe(false);
      expect(sc.capabilities?.drop).toEqual(['ALL']);
      expect((pod.containers[0] as Container & { resources: unknown }).resources).toEqual({
        requests: { cpu: '10m', memory: '32Mi' },
        limits: { memory: '64Mi' },
      });
    }
  });
});

describe('the helm test hook (templates/tests/text-turn.yaml)', () => {
  it('runs one text turn through the gateway Service with a token from the auth Secret, failing on an empty reply', async () => {
    const objects = render({ set: { 'auth.existingSecret': 'voice-auth' } });
    const pod = testPod(objects);
    expect(pod.metadata.annotations?.['helm.sh/hook']).toBe('test');
    expect(pod.spec.restartPolicy).toBe('Never');
    const container = pod.spec.containers[0]!;
    expect(container.image).toBe('realtime-voice-client:0.1.0');
    // The client image's entry point is the CLI client: the pod gives only its flags.
    expect(container.command).toBeUndefined();
    expect(container.args[0]).toBe('--url');
    expect(argAfter(container.args, '--url')).toBe(
      'ws://rtv-realtime-voice-gateway:8000/api/v1/streaming/realtime',
    );
    expect(argAfter(container.args, '--token-env')).toBe('RTV_TEST_TOKEN');
    expect(container.args).toContain('--require-reply');
    expect(argAfter(container.args, '--timeout')).toBe('60');
    expect(envValue(container, 'RTV_TEST_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'voice-auth',
      key: 'HELM_TEST_TOKEN',
    });
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(await schemaProblems([pod])).toEqual([]);
    // Its own Secret and image instead.
    const own = testPod(
      render({
        set: {
          'auth.existingSecret': 'voice-auth',
          'tests.auth.existingSecret': 'voice-test-token',
          'tests.auth.existingSecretKey': 'token',
          'tests.image.repository': 'registry.example.com/rtv-client',
          'tests.image.tag': '1.2.3',
        },
      }),
    ).spec.containers[0]!;
    expect(envValue(own, 'RTV_TEST_TOKEN')?.valueFrom?.secretKeyRef).toEqual({
      name: 'voice-test-token',
      key: 'token',
    });
    expect(own.image).toBe('registry.example.com/rtv-client:1.2.3');
  });

  it('uses the anonymous route when only that is on, and is not rendered when it could not authenticate', () => {
    const anonymous = testPod(render({ set: { 'auth.allowAnonymous': 'true' } })).spec.containers[0]!;
    expect(argAfter(anonymous.args, '--url')).toBe(
      'ws://rtv-realtime-voice-gateway:8000/api/v1/streaming/realtime/helm-test',
    );
    expect(anonymous.args).not.toContain('--token-env');
    expect(anonymous.env).toBeUndefined();
    expect(has(render(), 'Pod', '-test-text-turn')).toBe(false);
    expect(
      has(
        render({ set: { 'auth.existingSecret': 'a', 'tests.enabled': 'false' } }),
        'Pod',
        '-test-text-turn',
      ),
    ).toBe(false);
  });
});

describe('worker autoscaling on sessions', () => {
  it('renders a KEDA ScaledObject on session demand instead of the worker HPA', async () => {
    const objects = render({
      set: { 'worker.autoscaling.keda.enabled': 'true', 'worker.autoscaling.enabled': 'true' },
    });
    const scaled = find(objects, 'ScaledObject', '-worker');
    const spec = scaled.spec as {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      advanced: { horizontalPodAutoscalerConfig: { behavior: unknown } };
      triggers: { type: string; metadata: Record<string, string> }[];
    };
    expect(spec.scaleTargetRef.name).toBe('rtv-realtime-voice-worker');
    expect([spec.minReplicaCount, spec.maxReplicaCount]).toEqual([2, 20]);
    expect(spec.advanced.horizontalPodAutoscalerConfig.behavior).toMatchObject({
      scaleDown: { stabilizationWindowSeconds: 300 },
    });
    const [trigger] = spec.triggers;
    expect(trigger!.type).toBe('prometheus');
    expect(trigger!.metadata).toEqual({
      serverAddress: 'http://prometheus-operated.monitoring.svc:9090',
      query:
        'max(rtv_cluster_sessions{namespace="voice",service="rtv-realtime-voice-status-api"}) + ' +
        'max(rtv_cluster_queue_jobs{namespace="voice",service="rtv-realtime-voice-status-api",state="waiting"})',
      // 70 % of the default capacity of 100 sessions.
      threshold: '70',
    });
    // KEDA owns the worker HPA and the replica count; the worker budget counts minReplicas.
    expect(has(objects, 'HorizontalPodAutoscaler', '-worker')).toBe(false);
    expect((find(objects, 'Deployment', '-worker').spec as { replicas?: number }).replicas).toBeUndefined();
    expect(has(objects, 'PodDisruptionBudget', '-worker')).toBe(true);
    expect(await schemaProblems(objects)).toEqual([]);
    const custom = render({
      values: {
        worker: {
          capacity: 40,
          autoscaling: { keda: { enabled: true, query: 'sum(up)', targetCapacityPercentage: 50 } },
        },
      },
    });
    expect((find(custom, 'ScaledObject', '-worker').spec as typeof spec).triggers[0]!.metadata).toMatchObject(
      {
        query: 'sum(up)',
        threshold: '20',
      },
    );
  });

  it('adds an External session-demand metric to the worker HPA instead, for prometheus-adapter', () => {
    const objects = render({
      set: { 'worker.autoscaling.enabled': 'true', 'worker.autoscaling.external.enabled': 'true' },
    });
    const metrics = (find(objects, 'HorizontalPodAutoscaler', '-worker').spec as { metrics: unknown[] })
      .metrics;
    expect(metrics).toContainEqual({
      type: 'External',
      external: {
        metric: {
          name: 'rtv_worker_session_demand',
          selector: { matchLabels: { service: 'rtv-realtime-voice-status-api' } },
        },
        target: { type: 'AverageValue', averageValue: '70' },
      },
    });
    expect(
      renderError({
        set: { 'worker.autoscaling.keda.enabled': 'true', 'worker.autoscaling.external.enabled': 'true' },
      }),
    ).toContain('choose one');
  });

  it('scales production workers with KEDA and its gateways with the CPU HPA', () => {
    const production = render({ valuesFiles: [PRODUCTION_VALUES] });
    expect(has(production, 'ScaledObject', '-worker')).toBe(true);
    expect(has(production, 'HorizontalPodAutoscaler', '-worker')).toBe(false);
    expect(has(production, 'HorizontalPodAutoscaler', '-gateway')).toBe(true);
    const spec = find(production, 'ScaledObject', '-worker').spec as {
      minReplicaCount: number;
      maxReplicaCount: number;
    };
    expect([spec.minReplicaCount, spec.maxReplicaCount]).toEqual([3, 50]);
  });
});

describe('chart metadata', () => {
  const chart = parse(readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')) as {
    home?: string;
    sources?: string[];
    icon: string;
    maintainers: { name: string }[];
    keywords: string[];
    kubeVersion: string;
    appVersion: string;
    annotations: Record<string, string>;
  };
  const values = parse(readFileSync(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<
    string,
    {
      image?: { repository: string; tag: string };
      bundled?: { image: { repository: string; tag: string } };
    } & {
      exporter?: { image: { repository: string; tag: string } };
    }
  >;

  it('names maintainers, keywords and Kubernetes versions, carries the committed icon, and no web address', () => {
    expect(chart.maintainers.length).toBeGreaterThan(0);
    expect(chart.keywords).toContain('websocket');
    expect(chart.kubeVersion).toBe('>=1.25.0-0');
    const icon = /^data:image\/svg\+xml;base64,(.+)$/.exec(chart.icon);
    expect(icon, chart.icon).not.toBeNull();
    expect(Buffer.from(icon![1]!, 'base64').toString('utf8')).toBe(
      readFileSync(path.join(CHART_DIR, 'icon.svg'), 'utf8'),
    );
    // The project has no public address yet: the chart must not name one (no home, sources or links).
    expect(chart.home).toBeUndefined();
    expect(chart.sources).toBeUndefined();
    expect(readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')).not.toMatch(/https?:\/\//);
  });

  it('lists in its Artifact Hub annotations the images the chart runs', () => {
    const listed = (parse(chart.annotations['artifacthub.io/images']!) as { image: string }[])
      .map((i) => i.image)
      .sort();
    const app = (repository: string) => `${repository}:${chart.appVersion}`;
    const pinned = (image: { repository: string; tag: string }) => `${image.repository}:${image.tag}`;
    expect(listed).toEqual(
      [
        app(values.gateway!.image!.repository),
        app((values.worker as { image: { repository: string } }).image.repository),
        app((values.statusApi as { image: { repository: string } }).image.repository),
        app((values.tests as { image: { repository: string } }).image.repository),
        pinned(values.redis!.bundled!.image),
        pinned(values.redis!.exporter!.image),
      ].sort(),
    );
    expect(chart.annotations['artifacthub.io/license']).toBe('Apache-2.0');
  });
});
