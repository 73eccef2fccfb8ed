/**
 * The HTTP side: POST /<Operation> with a protobuf body. Each request is handled synchronously
 * once its body has arrived (faults, auth, operation), so no two requests ever interleave inside
 * an operation. Errors answer protobuf Error{code,message} with the service's HTTP status.
 * Every reply to a request that authenticates is signed with the caller's key, errors included
 * (the Python SDK verifies a 403 other than OTSAuthFailed and fails with a TypeError when the
 * signature is missing); a request that does not authenticate gets an unsigned reply.
 */
import { createHash, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AccessKey, CredentialStore } from '../credentials.js';
import type { TablestoreBehaviour } from './behaviour.js';
import { authenticate, replyAuthorization } from './auth.js';
import type { Database } from './database.js';
import { OtsError, asOtsError } from './errors.js';
import type { Faults, FaultKind } from './faults.js';
import { batchOperations } from './operations/batch.js';
import { requestTableName, type Operation, type OpResult } from './operations/context.js';
import { rangeOperations } from './operations/range.js';
import { rowOperations } from './operations/rows.js';
import { tableOperations } from './operations/tables.js';
import { mainProto } from './sdk.js';

export interface RequestRecord {
  action: string;
  operation: string;
  table?: string;
  status: number;
  rowsRead: number;
  rowsWritten: number;
  rowsReturned: number;
  /** OTS error code when the request failed with an answer. */
  errorCode?: string;
  /** Injected fault applied to this request; status 0 = no answer at all. */
  fault?: FaultKind;
  at: number;
}

export interface ServerDeps {
  db: Database;
  faults: Faults;
  credentials: CredentialStore;
  instance: string;
  now: () => number;
  records: RequestRecord[];
  behaviour: TablestoreBehaviour;
}

const OPERATIONS: Record<string, Operation> = { ...tableOperations, ...rowOperations, ...rangeOperations, ...batchOperations };
/** Far above any legal request (BatchWriteRow carries at most 4 MB of data). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** The headers every reply carries (the Python SDK requires all four on a 2xx), signed when the caller is known. */
function send(res: ServerResponse, status: number, body: Uint8Array, operation: string, caller?: AccessKey): void {
  const headers: Record<string, string> = {
    'x-ots-requestid': randomUUID(),
    // Wall clock, like the request's x-ots-date: SDKs compare it with theirs (15 minutes).
    'x-ots-date': new Date().toISOString(),
    'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
    'x-ots-contenttype': 'protocol buffer',
  };
  if (caller) headers.authorization = replyAuthorization(caller, operation, headers);
  res.writeHead(status, { ...headers, 'content-type': 'application/x-protobuf', 'content-length': String(body.byteLength) });
  res.end(body);
}

function sendError(res: ServerResponse, err: OtsError, operation: string, caller?: AccessKey): void {
  send(res, err.status, mainProto('Error').encode({ code: err.code, message: err.message }).finish(), operation, caller);
}

export function createTablestoreServer(deps: ServerDeps): http.Server {
  const record = (operation: string, status: number, extra: Partial<RequestRecord> = {}): void => {
    deps.records.push({ action: `ots:${operation}`, operation, status, rowsRead: 0, rowsWritten: 0, rowsReturned: 0, at: deps.now(), ...extra });
  };

  function handle(req: IncomingMessage, res: ServerResponse, operation: string, body: Buffer): void {
    const fault = deps.faults.take(operation);
    if (fault === 'reset') {
      record(operation, 0, { fault });
      req.socket.destroy();
      return;
    }
    if (fault === 'timeout') {
      record(operation, 0, { fault }); // held open: the client times out, or close() ends it
      return;
    }
    const now = deps.now();
    // Who is asking decides how the reply is signed, whatever the answer turns out to be.
    let caller: AccessKey | undefined;
    let authError: unknown;
    try {
      caller = authenticate(operation, req.headers, body, { credentials: deps.credentials, instance: deps.instance, now, wallNow: Date.now() });
    } catch (e) {
      authError = e;
    }
    try {
      if (fault === 'busy') throw new OtsError('OTSServerBusy', 'Server is busy.');
      if (fault === 'conflict') throw new OtsError('OTSRowOperationConflict', 'Data is being modified by the other request.');
      if (req.method !== 'POST') throw new OtsError('OTSMethodNotAllowed', 'OTSMethodNotAllowedOnly POST method for requests is supported.');
      const op = Object.hasOwn(OPERATIONS, operation) ? OPERATIONS[operation] : undefined;
      if (!op) throw new OtsError('OTSParameterInvalid', `Unsupported operation: ${operation}.`);
      if (authError) throw authError;
      const result: OpResult = op({ db: deps.db, now, behaviour: deps.behaviour }, body);
      if (result.changed) deps.db.changed();
      record(operation, 200, {
        ...(result.table !== undefined ? { table: result.table } : {}),
        rowsRead: result.rowsRead,
        rowsWritten: result.rowsWritten,
        rowsReturned: result.rowsReturned,
      });
      send(res, 200, result.body, operation, caller);
    } catch (e) {
      const err = asOtsError(e);
      const table = requestTableName(operation, body);
      record(operation, err.status, { errorCode: err.code, ...(table ? { table } : {}), ...(fault ? { fault } : {}) });
      sendError(res, err, operation, caller);
    }
  }

  const server = http.createServer((req, res) => {
    const operation = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '');
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        refused = true;
        record(operation, 413, { errorCode: 'OTSRequestBodyTooLarge' });
        sendError(res, new OtsError('OTSRequestBodyTooLarge', 'The size of POST data is too large.'), operation);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) handle(req, res, operation, Buffer.concat(chunks));
    });
    req.on('error', () => req.socket.destroy());
  });
  // Node's global agent keeps idle sockets 5 s, exactly the server default: a request sent as the
  // server drops the socket fails with "socket hang up", and the SDK never retries writes. Idle
  // longer than any client so the client always closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
