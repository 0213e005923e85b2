/**
 * A schema for KEDA's ScaledObject (keda.sh/v1alpha1), covering the fields the chart renders. No npm package
 * ships KEDA's CRD schema, so this is written from the CRD KEDA documents (keda.sh, "ScaledObject
 * specification", KEDA 2.x): the same types, enums and required fields, and `additionalProperties: false`
 * wherever the CRD lists the properties, so a misspelt field fails as kubectl's strict validation would.
 * Free-form parts of the CRD (the HPA `behavior`, `scalingModifiers`) stay free-form here.
 */
import { Ajv } from 'ajv';
import type { SchemaProblem } from './k8s-schema.js';

const int32 = { type: 'integer', minimum: -2147483648, maximum: 2147483647 } as const;

const SCALED_OBJECT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'keda.sh/v1alpha1' },
    kind: { const: 'ScaledObject' },
    metadata: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 253 },
        namespace: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        annotations: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['scaleTargetRef', 'triggers'],
      properties: {
        scaleTargetRef: {
          type: 'object',
          additionalProperties: false,
          required: ['name'],
          properties: {
            apiVersion: { type: 'string' },
            kind: { type: 'string' },
            name: { type: 'string', minLength: 1 },
            envSourceContainerName: { type: 'string' },
          },
        },
        pollingInterval: int32,
        cooldownPeriod: int32,
        initialCooldownPeriod: int32,
        idleReplicaCount: int32,
        minReplicaCount: int32,
        maxReplicaCount: int32,
        fallback: {
          type: 'object',
          additionalProperties: false,
          required: ['failureThreshold', 'replicas'],
          properties: { failureThreshold: int32, replicas: int32 },
        },
        advanced: {
          type: 'object',
          additionalProperties: false,
          properties: {
            restoreToOriginalReplicaCount: { type: 'boolean' },
            horizontalPodAutoscalerConfig: {
              type: 'object',
              additionalProperties: false,
              properties: { name: { type: 'string' }, behavior: { type: 'object' } },
            },
            scalingModifiers: { type: 'object' },
          },
        },
        triggers: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['type', 'metadata'],
            properties: {
              type: { type: 'string', minLength: 1 },
              name: { type: 'string' },
              useCachedMetrics: { type: 'boolean' },
              metricType: { enum: ['AverageValue', 'Value', 'Utilization'] },
              // Every trigger parameter is a string in the CRD, numbers included.
              metadata: { type: 'object', additionalProperties: { type: 'string' } },
              authenticationRef: {
                type: 'object',
                additionalProperties: false,
                required: ['name'],
                properties: { name: { type: 'string' }, kind: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: true }).compile(SCALED_OBJECT_SCHEMA);

/** Problems of a rendered ScaledObject against the schema above; empty when valid. */
export function validateScaledObject(object: Record<string, unknown>): SchemaProblem[] {
  if (validate(object)) return [];
  const name = `ScaledObject/${String((object.metadata as { name?: unknown } | undefined)?.name ?? '?')}`;
  return (validate.errors ?? []).map((e) => ({
    object: name,
    problem:
      e.keyword === 'additionalProperties'
        ? `unknown field ${e.instancePath}/${String((e.params as { additionalProperty: string }).additionalProperty)}`
        : `${e.instancePath || '/'} ${e.message ?? e.keyword}`,
  }));
}
