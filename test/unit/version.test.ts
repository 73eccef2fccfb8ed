import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PIPELINE_VERSION } from '../../lib/version.js';
import { budgetDay } from '../../lib/core/jobs.js';
import { dashscopeTimeToIso } from '../../lib/contract/dashscope-time.js';

describe('small pure helpers', () => {
  it('PIPELINE_VERSION matches package.json', () => {
    expect(PIPELINE_VERSION).toBe(JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
  });

  it('counts the budget by the calendar day in Asia/Shanghai', () => {
    expect(budgetDay(Date.parse('2026-11-25T15:59:59Z'))).toBe('2026-11-25');
    expect(budgetDay(Date.parse('2026-11-25T16:00:00Z'))).toBe('2026-11-26');
  });

  it('reads DashScope times as Beijing time', () => {
    expect(dashscopeTimeToIso('2024-11-01 09:50:56.081')).toBe('2024-11-01T01:50:56.081Z');
    expect(dashscopeTimeToIso(undefined)).toBeUndefined();
  });
});
