/**
 * The Shop CustomResourceDefinition, generated from the TypeBox schemas of shop-spec.ts: the
 * spec's schema with defaultConfig's defaults and its CEL rules, turned into the structural
 * subset the API server accepts (no additionalProperties: false, which it replaces by pruning
 * unknown fields; maps as additionalProperties).
 */
import type { TSchema } from 'typebox';
import { shopSpecSchema } from './config.ts';
import { beforeDefaults, celRulesKey, shopGroup, shopKind, shopPlural, shopStatusSchema, shopVersion } from './shop-spec.ts';

/** The keywords of JSONSchemaProps this generator passes through. */
const kept = ['type', 'description', 'default', 'enum', 'format', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'maxItems', 'maxProperties', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', celRulesKey];

export function structural(schema: TSchema): Record<string, unknown> {
  const node = schema as Record<string, unknown>;
  const result: Record<string, unknown> = {};
  for (const key of kept) if (node[key] !== undefined) result[key] = node[key];
  const properties = node.properties as Record<string, TSchema> | undefined;
  if (properties) {
    result.properties = Object.fromEntries(Object.entries(properties).map(([key, child]) => [key, structural(child)]));
    if (Array.isArray(node.required) && node.required.length > 0) result.required = node.required;
  }
  const patterns = node.patternProperties as Record<string, TSchema> | undefined;
  if (patterns) {
    const [valueSchema, ...others] = Object.values(patterns);
    if (!valueSchema || others.length > 0) throw new Error('a map schema needs exactly one value schema');
    result.additionalProperties = structural(valueSchema);
  }
  if (node.items) result.items = structural(node.items as TSchema);
  return result;
}

export const shopCrdName = `${shopPlural}.${shopGroup}`;
export const pausedAnnotation = `${shopGroup}/paused`;

export interface CrdShape {
  kind: string;
  plural: string;
  shortNames: string[];
  printerColumns: Record<string, unknown>[];
  description: string;
  spec: Record<string, unknown>;
  status: Record<string, unknown>;
  /** Top-level fields that must be there. */
  required?: string[];
}

/** A namespaced, single-version CRD of the scaleshop.dev group, with a status subresource. */
export function customResourceDefinition(shape: CrdShape): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${shape.plural}.${shopGroup}`, labels: { 'app.kubernetes.io/part-of': 'scaleshop' } },
    spec: {
      group: shopGroup,
      names: { kind: shape.kind, listKind: `${shape.kind}List`, plural: shape.plural, singular: shape.kind.toLowerCase(), shortNames: shape.shortNames },
      scope: 'Namespaced',
      versions: [
        {
          name: shopVersion,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: shape.printerColumns,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: shape.description,
              properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, spec: shape.spec, status: shape.status },
              ...(shape.required ? { required: shape.required } : {}),
            },
          },
        },
      ],
    },
  };
}

export function shopCrd(): Record<string, unknown> {
  return customResourceDefinition({
    kind: shopKind,
    plural: shopPlural,
    shortNames: ['shp'],
    printerColumns: [
      { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status', description: 'Every object applied and every workload ready' },
      { name: 'Services', type: 'string', jsonPath: '.status.servicesReady', description: 'Application services ready, of all' },
      { name: 'Reason', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].reason', priority: 1 },
      { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
    ],
    description: `The whole shop in one resource. Annotate it ${pausedAnnotation}: "true" to stop the operator from changing anything.`,
    // A field with a default is filled in before validation: required adds nothing to it.
    spec: structural(beforeDefaults(shopSpecSchema) as TSchema),
    status: structural(shopStatusSchema),
  });
}
