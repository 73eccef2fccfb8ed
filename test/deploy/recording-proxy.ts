/**
 * A transparent loopback HTTP proxy in front of an emulator: forwards every request unchanged
 * (method, path, headers — the signatures stay valid) and records what the emulators' own records
 * leave out: the query (ListObjects' prefix), the access key id that signed the request, and the
 * FC 3.0 InvokeFunction calls of the poller kick.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  /** From `Credential=` (OSS V4, FC ACS3), `x-oss-credential` (presigned) or `x-ots-accesskeyid`. */
  accessKeyId?: string;
  status?: number;
}

export interface RecordingProxy {
  url: string;
  records: ProxiedRequest[];
  close(): Promise<void>;
}

function accessKeyOf(headers: http.IncomingHttpHeaders, query: URLSearchParams): string | undefined {
  const auth = String(headers.authorization ?? '');
  const fromAuth = /Credential=([^/,\s]+)/.exec(auth)?.[1];
  const fromQuery = query.get('x-oss-credential')?.split('/')[0];
  const ots = headers['x-ots-accesskeyid'];
  return fromAuth ?? fromQuery ?? (typeof ots === 'string' ? ots : undefined);
}

export async function startRecordingProxy(target: string): Promise<RecordingProxy> {
  const upstream = new URL(target);
  const agent = new http.Agent({ keepAlive: true });
  const records: ProxiedRequest[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const record: ProxiedRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers };
    const key = accessKeyOf(req.headers, url.searchParams);
    if (key) record.accessKeyId = key;
    records.push(record);
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        record.status = up.statusCode;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
