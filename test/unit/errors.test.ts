import { describe, expect, it } from 'vitest';
import { ConditionFailedError, dispositionOf, InputError, JobStoreError, ModelError, TransportError } from '../../lib/errors.js';

const model = (status: number, code: string, message = '') => new ModelError(code, message, status);

describe('dispositionOf: the one retry-vs-terminal table (dashscope.md §3)', () => {
  it.each([
    [429, 'Throttling.RateQuota', '', 'throttled'],
    [429, 'Throttling.BurstRate', '', 'throttled'],
    [429, 'Throttling', '', 'throttled'],
    [429, 'Throttling.AllocationQuota', 'Allocated quota exceeded', 'throttled'],
    [429, 'Throttling.AllocationQuota', 'Free allocated quota exceeded.', 'terminal'],
    [429, 'PrepaidBillOverdue', '', 'terminal'],
    [500, 'InternalError', '', 'retry'],
    [500, 'InternalError.Timeout', '', 'lost'],
    [503, 'ModelUnavailable', '', 'retry'],
    [503, 'ModelServingError', '', 'throttled'],
    [400, 'InvalidParameter', '', 'terminal'],
    [400, 'DataInspectionFailed', '', 'terminal'],
    [400, 'Arrearage', '', 'terminal'],
    [401, 'InvalidApiKey', '', 'terminal'],
    [403, 'AccessDenied', '', 'terminal'],
  ])('%i %s %s → %s', (status, code, message, expected) => {
    expect(dispositionOf(model(status, code, message))).toBe(expected);
  });

  it('classifies the other families', () => {
    expect(dispositionOf(new InputError('InvalidSidecar', 'x'))).toBe('terminal');
    expect(dispositionOf(new TransportError('dashscope', 'timeout', true))).toBe('retry');
    expect(dispositionOf(new JobStoreError('OTSServerBusy', 'busy', 503))).toBe('retry');
    expect(dispositionOf(new JobStoreError('OTSParameterInvalid', 'bad', 400))).toBe('terminal');
    expect(dispositionOf(new ConditionFailedError('raced'))).toBe('retry');
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');
    expect(new TransportError('oss', 'failed', true, { cause }).cause).toBe(cause);
  });
});
