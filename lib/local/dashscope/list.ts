/**
 * `GET /tasks`: the batch task listing. Documented (docs/reference/dashscope.md §A): `start_time`,
 * `end_time` as `YYYYMMDDhhmmss` Beijing time, `model_name`, `status`, `page_no` (default 1),
 * `page_size` (default 10); the reply `{request_id, data:[{api_key_id, gmt_create, start_time,
 * end_time (epoch ms), model_name, region, request_id, status, task_id, user_api_unique_key}],
 * total, total_page, page_no, page_size}`. What no page confirms is switched (switches.ts): the
 * page size cap, paging base, `total`, which time the window filters, the window limit, order,
 * time format. Only the caller's own account (= key) is listed.
 */
import type { IncomingMessage } from 'node:http';
import { formatBeijing, parseCompactBeijing } from './clock.js';
import { ApiError, E } from './errors.js';
import { jsonReply, newRequestId, type Reply } from './http.js';
import { asApiError, checkAccount, throwInjected, type ApiDeps, type Injected } from './api-common.js';
import { uniqueKeyOf } from './models/index.js';
import type { Task } from './tasks.js';

const HOUR = 3600_000;

export function listTasks(deps: ApiDeps, req: IncomingMessage, url: URL): Reply {
  const requestId = newRequestId();
  const noted: Injected = {};
  let apiKeyId = '';
  try {
    apiKeyId = deps.keys.authenticate(req);
    checkAccount(deps, apiKeyId, 'list');
    throwInjected(deps, 'list', noted);
    if (!deps.limiter.tryTake(apiKeyId, 'query', deps.limits.queriesPerSecond)) throw ApiError.of(E.rateQuota);
    const sw = deps.switches.get();
    const q = url.searchParams;
    const time = (name: string) => {
      const v = q.get(name);
      if (v === null || v === '') return undefined;
      const ms = parseCompactBeijing(v);
      if (ms === undefined) throw new ApiError(400, 'InvalidParameter', `Value error, ${name} must be YYYYMMDDhhmmss (got ${JSON.stringify(v)})`);
      return ms;
    };
    const int = (name: string, dflt: number, lo: number) => {
      const v = q.get(name);
      if (v === null || v === '') return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < lo) throw new ApiError(400, 'InvalidParameter', `Value error, ${name} must be an integer of at least ${lo} (got ${JSON.stringify(v)})`);
      return n;
    };
    const firstPage = sw.listPaging === 'one-based' ? 1 : 0;
    const pageNo = int('page_no', firstPage, firstPage);
    let pageSize = int('page_size', 10, 1);
    if (pageSize > sw.listPageSizeMax) {
      if (sw.listPageSizeOver === 'error') {
        throw new ApiError(400, 'InvalidParameter', `Value error, page_size must be an integer between 1 and ${sw.listPageSizeMax} (got ${pageSize})`);
      }
      pageSize = sw.listPageSizeMax;
    }
    let from = time('start_time');
    const toSecond = time('end_time');
    // Second granularity: end_time 12:00:00 includes 12:00:00.999.
    let to = toSecond === undefined ? undefined : toSecond + 999;
    if (sw.listWindowMaxHours !== null) {
      const max = sw.listWindowMaxHours * HOUR;
      // Documented defaults: a missing bound is 24 h from the other, both missing = the last 24 h.
      if (from === undefined && to === undefined) to = deps.clock.now();
      if (from === undefined) from = to! - max;
      if (to === undefined) to = from + max;
      if (to - from > max + 999) throw ApiError.of(E.listWindow);
    }
    const all = deps.engine.list(apiKeyId, {
      from,
      to,
      field: sw.listWindowField,
      status: q.get('status') || undefined,
      model: q.get('model_name') || undefined,
      order: sw.listOrder,
    });
    const page = all.slice((pageNo - firstPage) * pageSize, (pageNo - firstPage + 1) * pageSize);
    deps.records.lists.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, status: 200, total: all.length });
    const when = (ms: number | undefined) => (ms === undefined ? undefined : sw.listTimes === 'epoch-ms' ? ms : formatBeijing(ms));
    return jsonReply(200, {
      request_id: requestId,
      data: page.map((t: Task) => ({
        api_key_id: t.apiKeyId,
        request_id: t.requestId,
        task_id: t.id,
        status: t.status,
        model_name: t.request.model,
        region: 'cn-beijing',
        user_api_unique_key: uniqueKeyOf(t.request.model),
        gmt_create: when(t.submitAt),
        start_time: when(t.scheduledAt),
        end_time: when(t.endAt),
      })),
      ...(sw.listTotal === 'present' ? { total: all.length, total_page: Math.ceil(all.length / pageSize) } : {}),
      page_no: pageNo,
      page_size: pageSize,
    });
  } catch (err) {
    const e = asApiError(err);
    deps.records.lists.push({ at: deps.clock.now(), realAt: Date.now(), apiKeyId, status: e.status, code: e.code, ...noted });
    return jsonReply(e.status, { code: e.code, message: e.message, request_id: requestId }, { 'x-request-id': requestId });
  }
}
