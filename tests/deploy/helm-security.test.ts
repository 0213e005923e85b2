import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Container,
  find,
  type K8sObject,
  PRODUCTION_VALUES,
  podTemplate,
  render,
  renderError,
  renderText,
  WORKLOAD_KINDS,
} from './support/helm.js';
import { validateK8sObject } from './support/k8s-schema.js';

// Redis is no trust root any more: the bundled one requires a password from a Secret, NetworkPolicies admit
// only the chart's pods, resume tokens are signed with a secret from a Secret. Rendered by the real helm.

type SecretObject = K8sObject & { data: Record<string, string> };
interface Peer {
  podSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  namespaceSelector?: { matchLabels?: Record<string, string> };
}
interface Rule {
  from?: Peer[];
  ports: { port: string; protocol: string }[];
}
type Policy = K8sObject & {
  spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[] };
};

const SERVICES = ['gateway', 'worker', 'status-api'] as const;
const MONITORING = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } };

const deployment = (objects: K8sObject[], component: string) => find(objects, 'Deployment', `-${component}`);
const mainContainer = (objects: K8sObject[], component: string): Container =>
  podTemplate(deployment(objects, component)).spec.containers[0]!;
const redisContainer = (objects: K8sObject[]) =>
  podTemplate(find(objects, 'StatefulSet', '-redis')).spec.containers[0]! as Container & { args: string[] };
const envRef = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef;
const config = (objects: K8sObject[], component: string) =>
  (find(objects, 'ConfigMap', `-${component}`) as K8sObject & { data: Record<string, string> }).data;
const secrets = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Secret') as SecretObject[];
const decoded = (secret: SecretObject, key: string) => Buffer.from(secret.data[key]!, 'base64').toString();
const policies = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'NetworkPolicy') as Policy[];
const policy = (objects: K8sObject[], component: string) =>
  find(objects, 'NetworkPolicy', `-${component}`) as Policy;

describe('helm chart: Redis password, resume secret, NetworkPolicies, safe defaults', () => {
  let defaults: K8sObject[];
  let production: K8sObject[];

  beforeAll(() => {
    defaults = render();
    production = render({ valuesFiles: [PRODUCTION_VALUES] });
  }, 120_000);

  it('makes the bundled Redis require a generated password that every service reads from the same Secret key', () => {
    const secret = find(defaults, 'Secret', '-redis-auth') as SecretObject;
    expect(Object.keys(secret.data)).toEqual(['redis-password']);
    const password = decoded(secret, 'redis-password');
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const ref = { name: secret.metadata.name, key: 'redis-password' };
    const redis = redisContainer(defaults);
    // No default user; the services' ACL user takes its password from the env the kubelet fills from the
    // Secret: the pod spec holds only the reference. (tests/deploy/redis-security.int.test.ts runs these
    // arguments on a real redis-server.)
    const users = redis.args.flatMap((arg, i) => (arg === '--user' ? [redis.args[i + 1]] : []));
    expect(users).toEqual(['default', 'rtv']);
    expect(redis.args.join(' ')).toContain(
      '--user default off --user rtv on >$(REDIS_PASSWORD) ~rtv:* ~{rtv:bull}:* +@all -@admin -@dangerous',
    );
    expect(redis.args).not.toContain('--requirepass');
    expect(envRef(redis, 'REDIS_PASSWORD')).toEqual(ref);
    for (const component of SERVICES)
      expect(config(defaults, component).REDIS_URL, component).toMatch(
        /^redis:\/\/rtv@[a-z0-9-]+-redis:6379$/,
      );
    const probes = podTemplate(find(defaults, 'StatefulSet', '-redis')).spec.containers[0] as unknown as {
      livenessProbe: { exec: { command: string[] } };
    };
    expect(probes.livenessProbe.exec.command).toEqual(['redis-cli', '--user', 'rtv', 'ping']);
    // The key patterns follow redis.prefix: its keys, and BullMQ's under their hash tag `{<prefix>:bull}`.
    const prefixed = redisContainer(render({ values: { redis: { prefix: 'voice' } } }));
    expect(prefixed.args.filter((arg) => arg.startsWith('~'))).toEqual(['~voice:*', '~{voice:bull}:*']);
    // The probes' redis-cli authenticates through REDISCLI_AUTH, not an argument.
    expect(envRef(redis, 'REDISCLI_AUTH')).toEqual(ref);
    for (const component of SERVICES)
      expect(envRef(mainContainer(defaults, component), 'REDIS_PASSWORD')).toEqual(ref);
    // The password appears nowhere else, and differs between installs.
    const text = renderText();
    expect(text).not.toContain(password);
    expect(decoded(find(render(), 'Secret', '-redis-auth') as SecretObject, 'redis-password')).not.toBe(
      password,
    );
  });

  it("takes the bundled Redis's password from redis.auth.existingSecret instead, generating none", () => {
    const objects = render({
      set: { 'redis.auth.existingSecret': 'my-redis', 'redis.auth.existingSecretKey': 'pw' },
    });
    expect(secrets(objects).map((s) => s.metadata.name)).not.toContainEqual(
      expect.stringMatching(/-redis-auth$/),
    );
    const ref = { name: 'my-redis', key: 'pw' };
    expect(envRef(redisContainer(objects), 'REDIS_PASSWORD')).toEqual(ref);
    for (const component of SERVICES)
      expect(envRef(mainContainer(objects, component), 'REDIS_PASSWORD')).toEqual(ref);
  });

  it('refuses an external Redis URL carrying a password, and settings of the wrong Redis', () => {
    const external = { 'redis.bundled.enabled': 'false' };
    expect(
      renderError({ set: { ...external, 'redis.external.url': 'redis://:secret@redis:6379' } }),
    ).toContain('/redis/external/url');
    expect(
      renderError({ set: { ...external, 'redis.external.url': 'redis://rtv:secret@redis:6379' } }),
    ).toContain('/redis/external/url');
    for (const key of ['existingSecret', 'tlsCaSecret'])
      expect(renderError({ set: { [`redis.external.${key}`]: 'x' } }), key).toContain(
        'redis.external.existingSecret, redis.external.tlsCaSecret and redis.external.tls belong to the external Redis',
      );
    expect(
      renderError({
        set: { ...external, 'redis.external.url': 'redis://r:6379', 'redis.auth.existingSecret': 'x' },
      }),
    ).toContain('redis.auth.existingSecret is the bundled Redis');
    expect(
      renderError({
        set: { ...external, 'redis.external.url': 'redis://r:6379', 'redis.external.tlsCaSecret': 'ca' },
      }),
    ).toContain('redis.external.tlsCaSecret needs a rediss:// URL');
  });

  it('mounts a private Redis CA into every service and names it in RTV_REDIS_TLS_CA_FILE', async () => {
    const objects = render({
      set: {
        'redis.bundled.enabled': 'false',
        'redis.external.url': 'rediss://redis.internal:6380',
        'redis.external.existingSecret': 'redis-pw',
        'redis.external.tlsCaSecret': 'redis-ca',
        'redis.external.tlsCaSecretKey': 'ca.pem',
      },
    });
    for (const component of SERVICES) {
      const pod = podTemplate(deployment(objects, component));
      expect(pod.spec.volumes).toContainEqual({
        name: 'redis-tls-ca',
        secret: { secretName: 'redis-ca', items: [{ key: 'ca.pem', path: 'ca.crt' }] },
      });
      expect(pod.spec.containers[0]!.volumeMounts).toContainEqual({
        name: 'redis-tls-ca',
        mountPath: '/etc/rtv/redis-tls',
        readOnly: true,
      });
      expect(config(objects, component).RTV_REDIS_TLS_CA_FILE).toBe('/etc/rtv/redis-tls/ca.crt');
      expect(envRef(pod.spec.containers[0]!, 'REDIS_PASSWORD')).toEqual({
        name: 'redis-pw',
        key: 'redis-password',
      });
    }
    expect(objects.filter((o) => o.kind === 'StatefulSet')).toEqual([]);
    const problems = (await Promise.all(objects.map((o) => validateK8sObject(o)))).flat();
    expect(problems).toEqual([]);
  });

  it('signs resume tokens with a generated secret from a Secret unless auth.existingSecret brings one', () => {
    const secret = find(defaults, 'Secret', '-resume-secret') as SecretObject;
    expect(decoded(secret, 'RTV_RESUME_SECRET')).toMatch(/^[A-Za-z0-9]{48}$/);
    expect(envRef(mainContainer(defaults, 'gateway'), 'RTV_RESUME_SECRET')).toEqual({
      name: secret.metadata.name,
      key: 'RTV_RESUME_SECRET',
    });
    // Only the gateways sign and check resume tokens.
    for (const component of ['worker', 'status-api'])
      expect(envRef(mainContainer(defaults, component), 'RTV_RESUME_SECRET')).toBeUndefined();
    // Production's realtime-voice-auth carries RTV_RESUME_SECRET: nothing generated, nothing overriding it.
    expect(secrets(production)).toEqual([]);
    const gateway = mainContainer(production, 'gateway');
    expect(gateway.env?.map((e) => e.name)).not.toContain('RTV_RESUME_SECRET');
    expect(gateway.envFrom).toContainEqual({ secretRef: { name: 'realtime-voice-auth' } });
  });

  it('admits only the chart services to Redis, and only monitoring to the admin and metrics ports', () => {
    expect(
      policies(defaults)
        .map((p) => p.metadata.name.replace(/^rtv-realtime-voice-/, ''))
        .sort(),
    ).toEqual(['gateway', 'redis', 'status-api', 'worker']);
    const redis = policy(defaults, 'redis');
    expect(redis.spec.policyTypes).toEqual(['Ingress']);
    expect(redis.spec.ingress).toEqual([
      {
        from: [
          {
            podSelector: {
              matchLabels: {
                'app.kubernetes.io/name': 'realtime-voice',
                'app.kubernetes.io/instance': 'rtv',
              },
              matchExpressions: [
                {
                  key: 'app.kubernetes.io/component',
                  operator: 'In',
                  values: ['gateway', 'worker', 'status-api'],
                },
              ],
            },
          },
        ],
        ports: [{ port: 'redis', protocol: 'TCP' }],
      },
    ]);
    // The public port is open (no `from`); the admin port only to the monitoring namespace.
    expect(policy(defaults, 'gateway').spec.ingress).toEqual([
      { ports: [{ port: 'http', protocol: 'TCP' }] },
      { from: [MONITORING], ports: [{ port: 'admin', protocol: 'TCP' }] },
    ]);
    expect(policy(defaults, 'worker').spec.ingress).toEqual([
      { from: [MONITORING], ports: [{ port: 'admin', protocol: 'TCP' }] },
    ]);
    // The status API's one port: the gateways (seed route forwarding) and monitoring; no Ingress by default.
    const statusRules = policy(defaults, 'status-api').spec.ingress;
    expect(statusRules).toHaveLength(1);
    expect(statusRules[0]!.from).toEqual([
      {
        podSelector: {
          matchLabels: {
            'app.kubernetes.io/name': 'realtime-voice',
            'app.kubernetes.io/instance': 'rtv',
            'app.kubernetes.io/component': 'gateway',
          },
        },
      },
      MONITORING,
    ]);
  });

  it('selects exactly one workload per NetworkPolicy, on ports that workload names', () => {
    for (const [variant, objects] of [
      ['default', defaults],
      ['production', production],
    ] as const) {
      const pods = objects.filter((o) => WORKLOAD_KINDS.has(o.kind)).map((w) => podTemplate(w));
      for (const p of policies(objects)) {
        const selected = pods.filter((pod) =>
          Object.entries(p.spec.podSelector.matchLabels).every(([k, v]) => pod.metadata.labels[k] === v),
        );
        expect(selected, `${variant} ${p.metadata.name}`).toHaveLength(1);
        const names = selected[0]!.spec.containers.flatMap((c) => (c.ports ?? []).map((port) => port.name));
        for (const rule of p.spec.ingress) for (const port of rule.ports) expect(names).toContain(port.port);
      }
      // Every chart pod is covered, Redis included when bundled.
      expect(policies(objects)).toHaveLength(pods.length);
    }
  });

  it('limits the public ports to networkPolicy.ingressFrom in production, and the metrics namespace is configurable', () => {
    const ingressNginx = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } },
    };
    // Besides the controller, the `helm test` pod of the release, which talks to the gateway Service directly.
    const helmTest = {
      podSelector: {
        matchLabels: {
          'app.kubernetes.io/name': 'realtime-voice',
          'app.kubernetes.io/instance': 'rtv',
          'app.kubernetes.io/component': 'helm-test',
        },
      },
    };
    expect(policy(production, 'gateway').spec.ingress[0]).toEqual({
      ports: [{ port: 'http', protocol: 'TCP' }],
      from: [ingressNginx, helmTest],
    });
    const testPod = find(production, 'Pod', '-test-text-turn');
    expect(testPod.metadata.labels).toMatchObject(helmTest.podSelector.matchLabels);
    const withoutTest = render({ valuesFiles: [PRODUCTION_VALUES], set: { 'tests.enabled': 'false' } });
    expect(policy(withoutTest, 'gateway').spec.ingress[0]!.from).toEqual([ingressNginx]);
    // With the Ingress on, the status API's public routes come through the same controller.
    expect(policy(production, 'status-api').spec.ingress[1]).toEqual({
      ports: [{ port: 'http', protocol: 'TCP' }],
      from: [ingressNginx],
    });
    // No bundled Redis in production, so no policy for it.
    expect(policies(production).map((p) => p.metadata.name)).not.toContain('rtv-realtime-voice-redis');
    // Another monitoring namespace, or another selector altogether (null drops the default label: helm merges maps).
    const renamed = render({
      values: {
        networkPolicy: {
          metricsNamespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'prom' } },
        },
      },
    });
    const prom = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'prom' } } };
    expect(policy(renamed, 'worker').spec.ingress[0]!.from).toEqual([prom]);
    expect(policy(renamed, 'gateway').spec.ingress[1]!.from).toEqual([prom]);
    const custom = render({
      values: {
        networkPolicy: {
          metricsNamespaceSelector: {
            matchLabels: { 'kubernetes.io/metadata.name': null, team: 'observability' },
          },
        },
      },
    });
    const observability = { namespaceSelector: { matchLabels: { team: 'observability' } } };
    expect(policy(custom, 'worker').spec.ingress[0]!.from).toEqual([observability]);
    expect(policy(custom, 'status-api').spec.ingress[0]!.from![1]).toEqual(observability);
  });

  it('gives the status API the auth Secret, so its history route verifies JWTs and history:read keys', () => {
    const refs = (objects: K8sObject[]) =>
      (
        mainContainer(objects, 'status-api') as Container & { envFrom: { secretRef?: { name: string } }[] }
      ).envFrom
        .map((e) => e.secretRef?.name)
        .filter((name) => name !== undefined);
    expect(refs(production)).toEqual(['realtime-voice-auth']);
    expect(refs(defaults)).toEqual([]);
  });

  it('renders no NetworkPolicy with networkPolicy.enabled=false', () => {
    expect(policies(render({ set: { 'networkPolicy.enabled': 'false' } }))).toEqual([]);
  });

  it('wires the connection, proxy and memory limits from values to env, and leaves unset ones to the services', () => {
    const objects = render({
      values: {
        gateway: {
          trustedProxies: ['10.0.0.0/8', 'fd00::/8'],
          maxConnectionsPerIp: 50,
          maxConnectionsPerGateway: 20000,
          redisRecoveryMs: 15000,
        },
        worker: {
          historyMaxBytes: 262144,
          providerQueueMaxBytes: 1048576,
          providerRetryBudgetS: 60,
          uncommittedTurnMaxBytes: 0,
          leaseRecoveryMs: 15000,
        },
        auth: { allowedOrigins: ['https://app.example.com', 'https://*.example.org'] },
      },
    });
    expect(config(objects, 'gateway')).toMatchObject({
      RTV_TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8',
      RTV_MAX_CONNECTIONS_PER_IP: '50',
      RTV_MAX_CONNECTIONS_PER_GATEWAY: '20000',
      RTV_REDIS_RECOVERY_MS: '15000',
      RTV_ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.org',
    });
    expect(config(objects, 'worker')).toMatchObject({
      RTV_HISTORY_MAX_BYTES: '262144',
      RTV_PROVIDER_QUEUE_MAX_BYTES: '1048576',
      RTV_PROVIDER_RETRY_BUDGET_S: '60',
      RTV_UNCOMMITTED_TURN_MAX_BYTES: '0',
      RTV_LEASE_RECOVERY_MS: '15000',
    });
    const unset = [
      'RTV_TRUSTED_PROXIES',
      'RTV_MAX_CONNECTIONS_PER_IP',
      'RTV_MAX_CONNECTIONS_PER_GATEWAY',
      'RTV_REDIS_RECOVERY_MS',
    ];
    for (const name of unset) expect(config(defaults, 'gateway')[name], name).toBeUndefined();
    const workerUnset = [
      'RTV_HISTORY_MAX_BYTES',
      'RTV_PROVIDER_QUEUE_MAX_BYTES',
      'RTV_PROVIDER_RETRY_BUDGET_S',
      'RTV_UNCOMMITTED_TURN_MAX_BYTES',
      'RTV_LEASE_RECOVERY_MS',
    ];
    for (const name of workerUnset) expect(config(defaults, 'worker')[name], name).toBeUndefined();
    expect(config(production, 'gateway').RTV_TRUSTED_PROXIES).toBe('10.244.0.0/16');
    // The status API believes the same proxies (and the gateways forwarding the public seed routes).
    const privateRanges = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7';
    expect(config(defaults, 'status-api').RTV_TRUSTED_PROXIES).toBe(privateRanges);
    expect(config(objects, 'status-api').RTV_TRUSTED_PROXIES).toBe(
      '10.0.0.0/8,fd00::/8,172.16.0.0/12,192.168.0.0/16,fc00::/7',
    );
    const onlyGateway = render({
      values: { gateway: { trustedProxies: ['100.64.0.0/10'] }, statusApi: { trustedProxies: [] } },
    });
    expect(config(onlyGateway, 'status-api').RTV_TRUSTED_PROXIES).toBe('100.64.0.0/10');
    expect(renderError({ values: { gateway: { trustedProxies: ['10.0.0.0'] } } })).toContain(
      '/gateway/trustedProxies/0',
    );
    expect(renderError({ values: { gateway: { maxConnectionsPerIp: 0 } } })).toContain(
      '/gateway/maxConnectionsPerIp',
    );
  });
});
