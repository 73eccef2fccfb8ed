/**
 * A small RAM policy evaluator for the tests: Allow statements only (our policies have no Deny),
 * `*` and `?` wildcards in actions and resources, and `StringLike` conditions. A request is
 * allowed when some statement matches its action, its resource and all of its conditions; a
 * condition key the request does not carry fails, as in RAM.
 */
import type { RamPolicy } from '../../deploy/ram-policy.js';

export interface RamRequest {
  action: string;
  resource: string;
  context?: Record<string, string>;
}

function wildcard(pattern: string, flags = ''): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

export function isAllowed(policy: RamPolicy, request: RamRequest): boolean {
  return policy.Statement.some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (!s.Action.some((a) => wildcard(a, 'i').test(request.action))) return false;
    if (!s.Resource.some((r) => wildcard(r).test(request.resource))) return false;
    for (const [operator, keys] of Object.entries(s.Condition ?? {})) {
      if (operator !== 'StringLike') return false; // not understood here: treat as not granted
      for (const [key, patterns] of Object.entries(keys)) {
        const value = request.context?.[key];
        if (value === undefined || !patterns.some((p) => wildcard(p).test(value))) return false;
      }
    }
    return true;
  });
}

export const ossResource = (account: string, bucket: string, key?: string) => `acs:oss:cn-beijing:${account}:${bucket}${key === undefined ? '' : `/${key}`}`;
export const otsResource = (account: string, instance: string, table: string) => `acs:ots:cn-beijing:${account}:instance/${instance.toLowerCase()}/table/${table}`;
export const fcResource = (account: string, fn: string) => `acs:fc:cn-beijing:${account}:functions/${fn}`;
