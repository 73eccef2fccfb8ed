/**
 * The function bundles replace the tablestore SDK's static protocol code with protobufjs
 * reflection over the SDK's own .proto files (lib/adapters/tablestore-protocol.ts, wired in by
 * scripts/slim-sdks.ts). Here, for every message type the SDK ships, both produce the same bytes
 * for the same message and read them back to the same object, and every enum has the same values.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { staticShapeFromJson, type ProtobufLight } from '../../lib/adapters/tablestore-protocol.js';
import { tablestoreProtoJson } from '../../scripts/slim-sdks.js';

const sdkRequire = createRequire(createRequire(import.meta.url).resolve('tablestore/package.json'));
const protobufDir = path.dirname(sdkRequire.resolve('protobufjs/package.json'));
const protobufRequire = createRequire(path.join(protobufDir, 'package.json'));
const light = protobufRequire('./light.js') as ProtobufLight;
const staticModule = sdkRequire('./lib/protocol/tablestore_compiled_proto.js') as Record<string, unknown>;
const reflected = staticShapeFromJson(light, protobufRequire('long'), tablestoreProtoJson());

interface ReflectedField {
  name: string;
  type: string;
  repeated: boolean;
  required: boolean;
  map: boolean;
  resolvedType: ReflectedNamespace | null;
  resolve(): ReflectedField;
}
interface ReflectedNamespace {
  name: string;
  fullName: string;
  nestedArray: ReflectedNamespace[];
  fieldsArray?: ReflectedField[];
  values?: Record<string, number>;
}
interface MessageClass {
  fromObject(o: unknown): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o: unknown): unknown;
}

const root = light.Root.fromJSON(tablestoreProtoJson()) as unknown as ReflectedNamespace;
function walk(ns: ReflectedNamespace, out: ReflectedNamespace[] = []): ReflectedNamespace[] {
  for (const child of ns.nestedArray ?? []) {
    out.push(child);
    walk(child, out);
  }
  return out;
}
const all = walk(root);
const types = all.filter((t) => t instanceof (light.Type as unknown as new () => object));
const enums = all.filter((t) => t instanceof (light.Enum as unknown as new () => object));
const at = (shape: Record<string, unknown>, fullName: string) => fullName.slice(1).split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], shape);

const SCALARS: Record<string, unknown> = {
  string: 'text',
  bytes: 'AQID',
  bool: true,
  double: 1.5,
  float: 0.5,
  int32: -7,
  sint32: -7,
  sfixed32: -7,
  uint32: 7,
  fixed32: 7,
  int64: '-1234567890123',
  sint64: '-1234567890123',
  sfixed64: '-1234567890123',
  uint64: '1234567890123',
  fixed64: '1234567890123',
};

/** A plain object setting every field of `type`; below a depth of 3 only the required ones. */
function sample(type: ReflectedNamespace, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of type.fieldsArray ?? []) {
    f.resolve();
    if (depth >= 3 && !f.required) continue;
    let value: unknown;
    if (f.resolvedType && 'values' in f.resolvedType && f.resolvedType.values) value = Object.keys(f.resolvedType.values).at(-1);
    else if (f.resolvedType) value = sample(f.resolvedType, depth + 1);
    else value = SCALARS[f.type];
    if (value === undefined) throw new Error(`no sample for ${type.fullName}.${f.name} (${f.type})`);
    out[f.name] = f.map ? { k: value } : f.repeated ? [value, value] : value;
  }
  return out;
}

const READ_BACK = { longs: String, enums: String, bytes: String, defaults: true, arrays: true, objects: true };

describe('tablestore protocol: reflection over the SDK .proto = the SDK static code', () => {
  it('has every type and enum the static module has, and no other', () => {
    expect(types.length).toBeGreaterThan(200);
    for (const t of [...types, ...enums]) expect(at(staticModule, t.fullName), t.fullName).toBeDefined();
    // Namespaces, classes (with their nested classes and enums) and enums, by path.
    const isEnum = (v: unknown) => typeof v === 'object' && v !== null && Object.values(v).every((x) => typeof x === 'number');
    const isClass = (v: unknown) => typeof v === 'function' && typeof (v as { encode?: unknown }).encode === 'function';
    const names = (shape: object, prefix = ''): string[] =>
      Object.entries(shape).flatMap(([k, v]) => {
        const name = `${prefix}.${k}`;
        if (isEnum(v)) return [`${name} (enum)`];
        if (isClass(v)) return [`${name} (class)`, ...names(Object.fromEntries(Object.entries(v as object).filter(([, x]) => isClass(x) || isEnum(x))), name)];
        if (typeof v === 'object' && v !== null && !prefix.includes('(')) return [name, ...names(v, name)];
        return [];
      });
    expect(names(reflected).sort()).toEqual(names(staticModule).sort());
  });

  it('every enum has the same values', () => {
    for (const e of enums) expect({ ...(at(reflected, e.fullName) as object) }, e.fullName).toEqual({ ...(at(staticModule, e.fullName) as object) });
  });

  it('every message type encodes a full sample to the same bytes and reads it back the same', () => {
    for (const t of types) {
      const ours = at(reflected, t.fullName) as MessageClass;
      const sdk = at(staticModule, t.fullName) as MessageClass;
      const input = sample(t);
      const bytes = sdk.encode(sdk.fromObject(input)).finish();
      if ((t.fieldsArray ?? []).length > 0) expect(bytes.length, t.fullName).toBeGreaterThan(0);
      expect(Buffer.from(ours.encode(ours.fromObject(input)).finish()).toString('hex'), t.fullName).toBe(Buffer.from(bytes).toString('hex'));
      expect(ours.toObject(ours.decode(bytes), READ_BACK), t.fullName).toEqual(sdk.toObject(sdk.decode(bytes), READ_BACK));
      // The SDK encodes what `create` returns through its constructor (client.js).
      const created = (ours as unknown as { create(p: unknown): object }).create({});
      expect(Object.getPrototypeOf(created).constructor, t.fullName).toBe(ours);
    }
  });
});
