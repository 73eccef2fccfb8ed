/**
 * The tablestore SDK's protocol classes without its 2.6 MB of generated static code
 * (`tablestore/lib/protocol/tablestore_compiled_proto.js`, 634 KB minified: two thirds of the
 * SDK in a bundle). The function bundles replace that file with this: the SDK's own .proto files,
 * parsed at build time into protobufjs's JSON descriptor (scripts/slim-sdks.ts), loaded at run time
 * by protobufjs's reflection build ("light", the same protobufjs the SDK depends on). Reflection
 * generates the encoders and decoders from the same templates pbjs printed the static code with, so
 * the messages are byte for byte the same (test/deploy/tablestore-protocol.test.ts checks every
 * type). The SDK reads `main.proto`, `filter.proto` and `search.proto`: namespaces of classes with
 * static `create` / `encode` / `decode`, and enums as name → number objects; reflection's `ctor`
 * is such a class and its `values` such an object.
 */

/** The parts of protobufjs/light this needs (its typings are not ours to import). */
export interface ProtobufLight {
  Root: { fromJSON(json: unknown): ReflectionObject };
  Type: abstract new (...args: never[]) => unknown;
  Enum: abstract new (...args: never[]) => unknown;
  Namespace: abstract new (...args: never[]) => unknown;
  util: { Long: unknown };
  configure(): void;
}

interface ReflectionObject {
  name: string;
  nestedArray?: ReflectionObject[];
  ctor?: Record<string, unknown>;
  values?: Record<string, number>;
}

/** What `require('./tablestore_compiled_proto.js')` gives the SDK. */
export type StaticShape = Record<string, unknown>;

/**
 * Hangs `ns`'s children on `target` as the static module does, each built on first access: the SDK
 * touches a handful of its ~270 message types, and building a class costs a code generation.
 */
function shapeInto(protobuf: ProtobufLight, target: StaticShape, ns: ReflectionObject): StaticShape {
  for (const child of ns.nestedArray ?? []) {
    let build: (() => unknown) | undefined;
    // Static code hangs nested messages and enums on their parent's class as well.
    if (child instanceof protobuf.Type) build = () => shapeInto(protobuf, child.ctor!, child);
    else if (child instanceof protobuf.Enum) build = () => child.values;
    else if (child instanceof protobuf.Namespace) build = () => shapeInto(protobuf, {}, child);
    if (!build) continue;
    const make = build;
    Object.defineProperty(target, child.name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = make();
        Object.defineProperty(target, child.name, { value, configurable: true, enumerable: true, writable: true });
        return value;
      },
    });
  }
  return target;
}

/**
 * The static module's exports, from the JSON descriptor. `long` is set explicitly: protobufjs
 * otherwise looks it up with a runtime `require`, which a bundle outside the repository (Function
 * Compute: no node_modules) would not find, so 64-bit fields would decode differently there.
 */
export function staticShapeFromJson(protobuf: ProtobufLight, long: unknown, json: unknown): StaticShape {
  protobuf.util.Long = long;
  protobuf.configure();
  return shapeInto(protobuf, {}, protobuf.Root.fromJSON(json));
}
