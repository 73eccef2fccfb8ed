/**
 * `/__admin/*`: the simulator's controls for out-of-process users (`sketchflow emulators`, the
 * soak run): inject faults, read records, move the clock. Never subject to faults or limits.
 *   POST   /__admin/faults   body: one FaultSpec or an array → {ok, applied}
 *   DELETE /__admin/faults   clears queued faults
 *   GET    /__admin/records  the records as JSON
 *   POST   /__admin/advance  body {ms} → {now}
 *   GET    /__admin/now      {now}
 */
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { faultSpecSchema, type ParsedFault } from './faults.js';
import { BodyTooLarge, readBody } from '../http.js';
import { jsonReply, type Reply } from './http.js';
import type { Records } from './records.js';

export interface AdminDeps {
  records: Records;
  now(): number;
  advance(ms: number): void;
  inject(spec: ParsedFault): boolean;
  clearFaults(): void;
}

const advanceBody = z.object({ ms: z.number().min(0) });

export async function handleAdmin(deps: AdminDeps, req: IncomingMessage, url: URL): Promise<Reply> {
  const route = `${req.method} ${url.pathname}`;
  try {
    switch (route) {
      case 'GET /__admin/records':
        return jsonReply(200, deps.records);
      case 'GET /__admin/now':
        return jsonReply(200, { now: deps.now() });
      case 'POST /__admin/advance': {
        const body = advanceBody.safeParse(await readJsonBody(req));
        if (!body.success) return badRequest(z.prettifyError(body.error));
        deps.advance(body.data.ms);
        return jsonReply(200, { now: deps.now() });
      }
      case 'POST /__admin/faults': {
        const raw = await readJsonBody(req);
        const parsed = z.array(faultSpecSchema).safeParse(Array.isArray(raw) ? raw : [raw]);
        if (!parsed.success) return badRequest(z.prettifyError(parsed.error));
        const applied = parsed.data.map((f) => deps.inject(f));
        return jsonReply(200, { ok: applied.every(Boolean), applied });
      }
      case 'DELETE /__admin/faults':
        deps.clearFaults();
        return jsonReply(200, { ok: true });
      default:
        return jsonReply(404, { code: 'NotFound', message: `No admin route ${route}` });
    }
  } catch (err) {
    if (err instanceof BodyTooLarge || err instanceof SyntaxError) return badRequest(err.message);
    throw err;
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = (await readBody(req, 1024 * 1024)).toString('utf8');
  return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
}

function badRequest(message: string): Reply {
  return jsonReply(400, { code: 'InvalidParameter', message });
}
