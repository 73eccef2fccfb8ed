import { describe, expect, it } from 'vitest';
import { ConditionFailedError, InputError, JobStoreError, ModelError, ObjectStoreError, ResultDownloadError, TransportError } from '../../lib/errors.js';
import { classify, taskStatusClass } from '../../lib/core/lifecycle/index.js';

const model = (status: number, code: string, message = '', requestId: string | undefined = 'req-1') => new ModelError(code, message, status, requestId);

describe('classify: the one reading of every failed call (dashscope.md §3; issue 13 runs 2, 6, 7)', () => {
  it.each([
    // DashScope answered with its own error body: nothing was created.
    [429, 'Throttling.RateQuota', '', 'throttled'],
    [429, 'Throttling.BurstRate', '', 'throttled'],
    [429, 'Throttling', '', 'throttled'],
    [429, 'Throttling.AllocationQuota', 'Allocated quota exceeded', 'throttled'],
    [500, 'InternalError', '', 'retry'],
    [503, 'ModelUnavailable', '', 'retry'],
    [503, 'ModelServingError', '', 'throttled'],
    [400, 'InvalidParameter', '', 'terminal'],
    [400, 'InvalidURL', '', 'terminal'],
    [400, 'DataInspectionFailed', '', 'terminal'],
    // The account, not the job: pause, keep the jobs queued.
    [401, 'InvalidApiKey', '', 'account'],
    [400, 'Arrearage', '', 'account'],
    [403, 'AccessDenied', '', 'account'],
    [403, 'AccessDenied.Unpurchased', '', 'account'],
    [429, 'Throttling.AllocationQuota', 'Free allocated quota exceeded.', 'account'],
    [429, 'PrepaidBillOverdue', '', 'account'],
    [404, 'ModelNotFound', '', 'account'],
  ])('create: %i %s %s → %s', (status, code, message, expected) => {
    expect(classify('create', model(status, code, message))).toBe(expected);
  });

  it('a gateway 5xx without a DashScope body may have created the task: unknown, not refused (run 2)', () => {
    expect(classify('create', new ModelError('HTTP502', 'create task: <html>Bad Gateway</html>', 502))).toBe('unknown');
    expect(classify('create', new ModelError('HTTP504', 'create task: ', 504))).toBe('unknown');
    expect(classify('create', new ModelError('InvalidReply', 'create task: the reply is not JSON', 502))).toBe('unknown');
    expect(classify('create', new ModelError('HTTP429', 'create task: slow down', 429))).toBe('throttled');
    expect(classify('create', new ModelError('HTTP413', 'create task: too large', 413))).toBe('terminal');
    // The same replies to a query say nothing about a task: try again.
    expect(classify('query', new ModelError('HTTP504', 'query task: ', 504))).toBe('retry');
  });

  it('a create that left may have been carried out; one that never connected did nothing', () => {
    expect(classify('create', new TransportError('dashscope', 'timeout', true))).toBe('unknown');
    expect(classify('create', new TransportError('dashscope', 'refused', false))).toBe('retry');
    expect(classify('query', new TransportError('dashscope', 'reset', true))).toBe('retry');
  });

  it('queries and cancels: a permanent 4xx is told apart from a transient failure (run 7)', () => {
    expect(classify('query', model(400, 'InvalidParameter'))).toBe('permanent');
    expect(classify('query', model(404, 'NotFound'))).toBe('permanent');
    expect(classify('query', model(500, 'InternalError'))).toBe('retry');
    expect(classify('query', model(429, 'Throttling'))).toBe('throttled');
    expect(classify('query', model(401, 'InvalidApiKey'))).toBe('account');
    expect(classify('cancel', model(400, 'UnsupportedOperation'))).toBe('permanent');
  });

  it('OSS: a missing permission is the deployment, a 404 a race, a 4xx from image processing the file (run 7)', () => {
    expect(classify('imageInfo', new ObjectStoreError('AccessDenied', 'denied', 403))).toBe('account');
    expect(classify('imageInfo', new ObjectStoreError('NoSuchKey', 'gone', 404))).toBe('retry');
    expect(classify('imageInfo', new ObjectStoreError('InvalidReply', 'odd', 502))).toBe('retry');
    expect(classify('imageInfo', new ObjectStoreError('BadRequest', 'not an image', 400))).toBe('terminal');
    expect(classify('objects', new ObjectStoreError('InternalError', 'oops', 500))).toBe('retry');
    expect(classify('objects', new ObjectStoreError('AccessDenied', 'denied', 403))).toBe('account');
  });

  it('Tablestore, downloads, races and inputs', () => {
    expect(classify('rows', new JobStoreError('OTSServerBusy', 'busy', 503))).toBe('retry');
    expect(classify('rows', new JobStoreError('OTSParameterInvalid', 'bad', 400))).toBe('permanent');
    expect(classify('rows', new JobStoreError('OTSAuthFailed', 'denied', 403))).toBe('account');
    expect(classify('rows', new ConditionFailedError('raced'))).toBe('retry');
    expect(classify('download', new ResultDownloadError('expired', 403))).toBe('permanent');
    expect(classify('download', new ResultDownloadError('reset'))).toBe('retry');
    expect(classify('create', new InputError('InvalidSidecar', 'x'))).toBe('terminal');
  });

  it('keeps the cause', () => {
    const cause = new Error('socket hang up');
    expect(new TransportError('oss', 'failed', true, { cause }).cause).toBe(cause);
  });
});

describe('taskStatusClass: only UNKNOWN and InternalError.Timeout mean lost (run 3)', () => {
  it.each([
    ['PENDING', undefined, 'waiting'],
    ['SUSPENDED', undefined, 'waiting'],
    ['RUNNING', undefined, 'running'],
    ['SUCCEEDED', undefined, 'finished'],
    ['CANCELED', undefined, 'finished'],
    ['FAILED', 'DataInspectionFailed', 'finished'],
    ['FAILED', undefined, 'finished'],
    ['FAILED', 'InternalError.Timeout', 'lost'],
    ['UNKNOWN', undefined, 'lost'],
    ['Succeeded', undefined, 'invalid'],
    ['', undefined, 'invalid'],
    ['QUEUED', undefined, 'invalid'],
  ])('%j (%s) → %s', (status, code, expected) => {
    expect(taskStatusClass(status, code)).toBe(expected);
  });
});
