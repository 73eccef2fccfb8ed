/**
 * What keeps the function bundles small (issue 17: at most 1.5 MiB each, where the SDKs as
 * published come to 4.9 MiB). Every cut here is either a lighter build of the same package or the
 * removal of code that our calls provably never reach; test/deploy/bundle-e2e.test.ts runs the
 * bundles against the emulators and is the proof that nothing reached was removed. Each stub
 * throws a named error if it is ever reached, so a new call path fails loudly, not strangely.
 */
import type { Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const packageDir = (name: string) => path.dirname(require.resolve(`${name}/package.json`));
const tablestoreDir = packageDir('tablestore');
/** The protobufjs the SDK itself resolves, and the `long` that protobufjs resolves. */
const protobufDir = path.dirname(createRequire(path.join(tablestoreDir, 'package.json')).resolve('protobufjs/package.json'));
const longFile = createRequire(path.join(protobufDir, 'package.json')).resolve('long');
const undiciDir = packageDir('undici');
const fcDir = packageDir('@alicloud/fc20230330');

/**
 * undici's index.js loads every feature it exports; we use `Agent`, `request` and `errors`
 * (lib/adapters/dashscope.ts). These modules of its index are reachable only through the exports
 * we do not use (fetch, WebSocket, EventSource, caches, mocks, proxies, interceptors, other pools).
 */
export const UNDICI_UNUSED = [
  /^\.\/lib\/web\//,
  /^\.\/lib\/mock\//,
  /^\.\/lib\/cache\//,
  /^\.\/lib\/interceptor\//,
  /^\.\/lib\/handler\/retry-handler$/,
  /^\.\/lib\/dispatcher\/(balanced-pool|round-robin-pool|proxy-agent|socks5-proxy-agent|env-http-proxy-agent|retry-agent|h2c-client)$/,
];

/**
 * The exports of undici that the bundles keep whole (the rest are placeholders that throw on use).
 * test/integration/bundle.test.ts fails if a bundled module imports any other.
 */
export const UNDICI_KEPT = ['Agent', 'Client', 'Pool', 'Dispatcher', 'errors', 'request', 'stream', 'pipeline', 'connect', 'upgrade', 'getGlobalDispatcher', 'setGlobalDispatcher', 'buildConnector', 'util', 'DecoratorHandler', 'RedirectHandler'];

/** The FC 3.0 models `invokeFunctionWithOptions` uses (lib/adapters/fc.ts calls nothing else). */
export const FC_MODELS = ['InvokeFunctionRequest', 'InvokeFunctionHeaders', 'InvokeFunctionResponse'];

/**
 * What a left-out module exports: it fails when used, not when loaded. undici's index reads members
 * of its modules at load (and constructs `caches`), so every member is a placeholder that throws
 * when called, constructed into, or touched. One copy per bundle; each left-out module names itself.
 */
const UNREACHABLE_RUNTIME = `'use strict';
module.exports = (what) => {
  const fail = () => { throw new Error(what + ' is not in this function bundle (scripts/slim-sdks.ts): a call path reaches code the bundle left out'); };
  const touched = new Proxy({}, { get: fail, set: fail });
  const member = () => new Proxy(function unbundled() {}, { apply: fail, construct: () => touched });
  return new Proxy({}, { get: (_, key) => (typeof key === 'symbol' || key === '__esModule' ? undefined : member()) });
};
`;

/** The SDK's .proto files as protobufjs's JSON descriptor, parsed by the SDK's own protobufjs. */
export function tablestoreProtoJson(): unknown {
  const protobuf = require(protobufDir) as {
    Root: new () => { loadSync(files: string[]): { toJSON(): unknown } };
  };
  const dir = path.join(tablestoreDir, 'lib', 'protocol');
  // The three files build_proto.sh hands pbjs for tablestore_compiled_proto.js.
  return new protobuf.Root().loadSync(['tablestore.proto', 'tablestore_filter.proto', 'tablestore_search.proto'].map((f) => path.join(dir, f))).toJSON();
}

/**
 * Packages that one importer requires but our calls never reach through it: [package, importer
 * (a file inside node_modules), why].
 */
export const UNREACHED_PACKAGES: ReadonlyArray<readonly [string, string, string]> = [
  // urllib requires iconv-lite (0.5 MB of code pages) only to decode a body whose charset Node lacks,
  // and only for `dataType: 'text' | 'json'`; ali-oss never sets dataType (it parses the XML from
  // the Buffer), and urllib catches a failed decode and keeps the raw body.
  ['iconv-lite', 'urllib/lib/urllib.js', 'charsets Node lacks, for a dataType ali-oss never asks for'],
  // The Darabonba runtime's WebSocket client (with its proxy agents) serves `ws`/`wss` API calls;
  // InvokeFunction goes over HTTP(S).
  ['ws', '@darabonba/typescript/dist/websocket.js', 'WebSocket API calls'],
  ['https-proxy-agent', '@darabonba/typescript/dist/websocket.js', 'WebSocket API calls through a proxy'],
  ['http-proxy-agent', '@darabonba/typescript/dist/websocket.js', 'WebSocket API calls through a proxy'],
  ['socks-proxy-agent', '@darabonba/typescript/dist/websocket.js', 'WebSocket API calls through a SOCKS proxy'],
  // moment backs only the Darabonba `Date` class, which neither the FC client nor openapi-core uses.
  ['moment', '@darabonba/typescript/dist/date.js', 'the Darabonba Date class'],
  // xml2js's Builder (xmlbuilder) writes XML; ali-oss and openapi-core only parse it (parseString,
  // XML.parseXml), and ali-oss writes its XML bodies with its own obj2xml.
  ['xmlbuilder', 'xml2js/lib/builder.js', "xml2js's Builder"],
];

/**
 * Optional packages the SDKs require inside a try and that this repository does not install. Left
 * as run-time requires they would load wherever a copy happens to be found (a runtime's global
 * modules) and fail elsewhere; bundled as "not installed" they fail the same everywhere.
 */
export const ABSENT_PACKAGES: ReadonlyArray<readonly [string, string]> = [
  ['supports-color', "debug's colour detection (it falls back to plain colours)"],
  ['graceful-fs', 'mz/fs (it falls back to fs)'],
  ['proxy-agent', 'urllib, only when an HTTP proxy is configured (none is)'],
];

/** Lighter entry points of the same package: [package, importer, replacement module source]. */
export const LIGHTER_ENTRIES: ReadonlyArray<readonly [string, string, string]> = [
  // The Darabonba runtime takes all of lodash for one call, `_.merge`.
  ['lodash', '@darabonba/typescript/dist/func.js', "module.exports = { merge: require('lodash/merge') };"],
];

const inNodeModules = (importer: string, file: string) => importer.endsWith(path.join('node_modules', file));

export const slimSdks: Plugin = {
  name: 'slim-sdks',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const unreached = UNREACHED_PACKAGES.find(([pkg, importer]) => args.path === pkg && inNodeModules(args.importer, importer));
      if (unreached) return { path: `${unreached[0]} (required by ${unreached[1]}, for ${unreached[2]})`, namespace: 'unreachable' };
      const absent = ABSENT_PACKAGES.find(([pkg]) => args.path === pkg);
      if (absent) return { path: absent[0], namespace: 'absent', pluginData: absent[1] };
      const lighter = LIGHTER_ENTRIES.find(([pkg, importer]) => args.path === pkg && inNodeModules(args.importer, importer));
      if (lighter) return { path: `${lighter[0]} for ${lighter[1]}`, namespace: 'lighter', pluginData: { contents: lighter[2], resolveDir: path.dirname(args.importer) } };
      return undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'absent' }, (args) => ({
      contents: `const err = new Error(${JSON.stringify(`Cannot find module '${args.path}' (not in this function bundle; optional for ${String(args.pluginData)})`)}); err.code = 'MODULE_NOT_FOUND'; throw err;`,
      loader: 'js',
    }));
    b.onLoad({ filter: /.*/, namespace: 'lighter' }, (args) => ({ ...(args.pluginData as { contents: string; resolveDir: string }), loader: 'js' }));

    b.onResolve({ filter: /^\.\/lib\// }, (args) =>
      args.importer === path.join(undiciDir, 'index.js') && UNDICI_UNUSED.some((re) => re.test(args.path))
        ? { path: `undici/${args.path.slice(2)}`, namespace: 'unreachable' }
        : undefined,
    );

    // The FC client's barrel of its 846 API models: only the InvokeFunction ones are kept.
    b.onResolve({ filter: /^\.\/models\/model$/ }, (args) =>
      args.importer === path.join(fcDir, 'dist', 'client.js') ? { path: `@alicloud/fc20230330 models ${FC_MODELS.join(', ')}`, namespace: 'fc-models' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'fc-models' }, () => ({
      contents: `'use strict';\nObject.assign(exports, ${FC_MODELS.map((m) => `require('./${m}.js')`).join(', ')});\n`,
      resolveDir: path.join(fcDir, 'dist', 'models'),
      loader: 'js',
    }));

    b.onLoad({ filter: /.*/, namespace: 'unreachable' }, (args) => ({
      contents: `module.exports = require('unreachable-runtime')(${JSON.stringify(args.path)});`,
      loader: 'js',
    }));
    b.onResolve({ filter: /^unreachable-runtime$/, namespace: 'unreachable' }, () => ({ path: 'runtime', namespace: 'unreachable-runtime' }));
    b.onLoad({ filter: /.*/, namespace: 'unreachable-runtime' }, () => ({ contents: UNREACHABLE_RUNTIME, loader: 'js' }));

    // The SDK's static protocol code (2.6 MB) → its .proto as JSON, loaded by protobufjs/light.
    const protocolDir = path.join(tablestoreDir, 'lib', 'protocol');
    // Required by the SDK's encoder, decoder and filter.
    b.onResolve({ filter: /tablestore_compiled_proto\.js$/ }, (args) =>
      path.resolve(args.resolveDir, args.path) === path.join(protocolDir, 'tablestore_compiled_proto.js')
        ? { path: 'tablestore .proto on protobufjs/light', namespace: 'tablestore-protocol' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'tablestore-protocol' }, () => {
      const shape = path.resolve(import.meta.dirname, '..', 'lib', 'adapters', 'tablestore-protocol.ts');
      return {
        contents: `'use strict';
const { staticShapeFromJson } = require(${JSON.stringify(shape)});
module.exports = staticShapeFromJson(require(${JSON.stringify(path.join(protobufDir, 'light.js'))}), require(${JSON.stringify(longFile)}), JSON.parse(${JSON.stringify(JSON.stringify(tablestoreProtoJson()))}));
`,
        resolveDir: protocolDir,
        loader: 'js',
      };
    });
  },
};
