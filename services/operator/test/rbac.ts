/**
 * The check both reconcile loops' tests make of their Role: every request the operator made (those
 * with its token) is allowed, none is outside the resources but discovery, and nothing is granted
 * that was not used.
 */
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import type { RecordedRequest } from './api-server.ts';
import { helm } from './helm.ts';

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  /** Only these objects (get, patch, delete…; never create, which names no existing object). */
  resourceNames?: string[];
}

/** The rules of one Role of the chart, as `helm template` renders it. */
export function chartRole(namespace: string, name: string): Rule[] {
  const result = helm(['template', 'scaleshop', 'charts/scaleshop', '--namespace', namespace]);
  assert.equal(result.status, 0, result.stderr);
  const role = parseAllDocuments(result.stdout)
    .map((document) => document.toJS())
    .find((object) => object?.kind === 'Role' && object.metadata.name === name) as { rules: Rule[] } | undefined;
  assert.ok(role, `no Role ${name} in the chart`);
  return role.rules;
}

export function rbacProblems(rules: readonly Rule[], requests: readonly RecordedRequest[]) {
  const resourceRequests = requests.filter((request) => request.resource !== '');
  const denied = resourceRequests
    .filter(
      (request) =>
        !rules.some(
          (rule) =>
            rule.apiGroups.includes(request.apiGroup) &&
            rule.resources.includes(request.resource) &&
            rule.verbs.includes(request.verb) &&
            (rule.resourceNames === undefined || (request.name !== undefined && rule.resourceNames.includes(request.name))),
        ),
    )
    .map((request) => `${request.verb} ${request.apiGroup || 'core'}/${request.resource}${request.name ? ` ${request.name}` : ''}`);
  const usedResources = new Set(resourceRequests.map((request) => `${request.apiGroup} ${request.resource}`));
  const usedVerbs = new Set(resourceRequests.map((request) => request.verb));
  return {
    wildcards: rules.filter((rule) => [...rule.apiGroups, ...rule.resources, ...rule.verbs].includes('*')),
    denied: [...new Set(denied)],
    // Outside the resources there is only discovery (GET /api/v1, /apis, /apis/<group>/<version>),
    // which the default ClusterRole system:discovery lets every authenticated user read.
    nonResource: requests.filter((request) => request.resource === '' && (request.method !== 'GET' || !/^\/(api\/v1|apis(\/[^/]+\/[^/]+)?)$/.test(request.path))).map((request) => `${request.method} ${request.path}`),
    // Nothing granted in excess: every resource of the Role was asked for, and every verb used.
    unusedResources: rules.flatMap((rule) => rule.apiGroups.flatMap((group) => rule.resources.map((resource) => `${group} ${resource}`))).filter((grant) => !usedResources.has(grant)),
    unusedVerbs: [...new Set(rules.flatMap((rule) => rule.verbs))].filter((verb) => !usedVerbs.has(verb)),
  };
}

export const noRbacProblems = { wildcards: [], denied: [], nonResource: [], unusedResources: [], unusedVerbs: [] };
