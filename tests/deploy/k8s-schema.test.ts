import { describe, expect, it } from 'vitest';
import { validateK8sObject } from './support/k8s-schema.js';

// The chart tests lean on this validator, so first: it does catch what kubectl would refuse.

function deployment() {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'demo', labels: { 'app.kubernetes.io/name': 'demo', anything: 'goes' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'demo' } },
      template: {
        metadata: { labels: { app: 'demo' } },
        spec: {
          containers: [
            {
              name: 'demo',
              image: 'demo:1',
              ports: [{ name: 'admin', containerPort: 9100 }],
              resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
              livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
            },
          ],
        },
      },
    },
  };
}

describe('validateK8sObject', () => {
  it('accepts a valid object, with free keys in maps (labels, resources)', async () => {
    expect(await validateK8sObject(deployment())).toEqual([]);
  });

  it('reports a field the schema does not know, with its path', async () => {
    const d = deployment();
    const container = d.spec.template.spec.containers[0]!;
    Object.assign(container.securityContext, { readOnlyRootFileSystem: true });
    Object.assign(d.metadata, { annotation: {} });
    const problems = (await validateK8sObject(d)).map((p) => p.problem);
    expect(problems).toEqual([
      'unknown field /metadata/annotation',
      'unknown field /spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem',
    ]);
  });

  it('reports wrong types and missing required fields', async () => {
    const d: Record<string, unknown> = deployment();
    const spec = d.spec as Record<string, unknown>;
    spec.replicas = 'two';
    delete spec.selector;
    const [problem, ...rest] = await validateK8sObject(d);
    expect(rest).toEqual([]);
    expect(problem?.object).toBe('Deployment/demo');
    expect(problem?.problem).toContain('selector');
    expect(problem?.problem).toContain('replicas must be integer');
  });

  it('validates Prometheus Operator objects too', async () => {
    const monitor = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'demo' },
      spec: { selector: { matchLabels: { app: 'demo' } }, endpoints: [{ port: 'admin', intervall: '15s' }] },
    };
    expect(await validateK8sObject(monitor)).toEqual([
      { object: 'ServiceMonitor/demo', problem: 'unknown field /spec/endpoints/0/intervall' },
    ]);
  });

  it('refuses kinds it has no schema for rather than passing them', async () => {
    const widget = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(await validateK8sObject(widget)).toEqual([
      { object: 'Widget/w', problem: 'no schema for apiVersion example.com/v1 kind Widget' },
    ]);
  });

  it("checks KEDA ScaledObjects against a schema of KEDA's documented CRD fields", async () => {
    const scaled = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'workers', labels: { app: 'demo' } },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'workers' },
        minReplicaCount: 2,
        maxReplicaCount: 20,
        advanced: {
          horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } },
        },
        triggers: [
          { type: 'prometheus', metadata: { serverAddress: 'http://p:9090', query: 'up', threshold: '70' } },
        ],
      },
    };
    expect(await validateK8sObject(scaled)).toEqual([]);
    const broken = structuredClone(scaled) as Record<string, unknown> & typeof scaled;
    Object.assign(broken.spec, { minReplicas: 2 });
    Object.assign(broken.spec.triggers[0]!.metadata, { threshold: 70 });
    expect((await validateK8sObject(broken)).map((p) => p.problem).sort()).toEqual([
      '/spec/triggers/0/metadata/threshold must be string',
      'unknown field /spec/minReplicas',
    ]);
    const noTrigger = structuredClone(scaled) as Record<string, unknown> & typeof scaled;
    delete (noTrigger.spec as Partial<typeof scaled.spec>).triggers;
    expect((await validateK8sObject(noTrigger)).map((p) => p.problem)).toEqual([
      "/spec must have required property 'triggers'",
    ]);
  });
});
