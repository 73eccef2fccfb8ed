/**
 * The parts of the `tablestore` SDK the emulator reuses: its compiled protobuf module (so requests
 * decode and replies encode exactly as the SDK expects) and its PlainBuffer writer (so reply rows
 * carry the CRC-8 checksums the SDK's reader verifies). The SDK is CommonJS without typings for
 * these internals, so they are loaded with createRequire and typed here as narrowly as we use them.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `int64-buffer`'s Int64LE as the SDK creates it (TableStore.Long). */
export interface SdkInt64 {
  toBuffer(): Buffer;
  toString(radix?: number): string;
}

interface SdkOutputStream {
  count(): number;
  getBuffer(): Buffer;
}

interface SdkCodedOutputStream {
  writeHeader(): void;
  writeTag(tag: number): void;
  writePrimaryKey(primaryKey: Array<Record<string, unknown>>, rowCheckSum: number): number;
  writeColumn(name: string, value: unknown, timestamp: number | null, rowCheckSum: number): number;
  writeRowChecksum(rowCheckSum: number): void;
}

interface TableStoreSdk {
  Long: { fromString(value: string): SdkInt64 };
  PlainBufferOutputStream: new (capacity: number) => SdkOutputStream;
  PlainBufferCodedOutputStream: new (stream: SdkOutputStream) => SdkCodedOutputStream;
  plainBufferCrc8: { crcInt8(crc: number, byte: number): number };
}

/** A protobufjs static message class. */
export interface PbType {
  decode(buffer: Uint8Array): unknown;
  encode(message: object): { finish(): Uint8Array };
}

interface CompiledProtos {
  main: { proto: Record<string, PbType> };
  filter: { proto: Record<string, PbType> };
}

export const TableStore = require('tablestore') as TableStoreSdk;
const protos = require('tablestore/lib/protocol/tablestore_compiled_proto.js') as CompiledProtos;

function messageType(ns: Record<string, PbType>, name: string): PbType {
  const type = ns[name];
  if (!type) throw new Error(`tablestore SDK has no protobuf message ${name}`);
  return type;
}

export const mainProto = (name: string): PbType => messageType(protos.main.proto, name);
export const filterProto = (name: string): PbType => messageType(protos.filter.proto, name);

/** PlainBuffer tags and variant types (tablestore/lib/protocol/plain_buffer_consts.js). */
export const PB = {
  HEADER: 0x75,
  TAG_ROW_PK: 0x01,
  TAG_ROW_DATA: 0x02,
  TAG_CELL: 0x03,
  TAG_CELL_NAME: 0x04,
  TAG_CELL_VALUE: 0x05,
  TAG_CELL_TYPE: 0x06,
  TAG_CELL_TIMESTAMP: 0x07,
  TAG_DELETE_ROW_MARKER: 0x08,
  TAG_ROW_CHECKSUM: 0x09,
  TAG_CELL_CHECKSUM: 0x0a,
  DELETE_ALL_VERSION: 0x01,
  DELETE_ONE_VERSION: 0x03,
  INCREMENT: 0x04,
  VT_INTEGER: 0x00,
  VT_DOUBLE: 0x01,
  VT_BOOLEAN: 0x02,
  VT_STRING: 0x03,
  VT_NULL: 0x06,
  VT_BLOB: 0x07,
  VT_INF_MIN: 0x09,
  VT_INF_MAX: 0x0a,
  VT_AUTO_INCREMENT: 0x0b,
} as const;

/** CRC-8 over bytes with the SDK's table, so both directions agree by construction. */
export function crc8(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (const b of bytes) c = TableStore.plainBufferCrc8.crcInt8(c, b);
  return c;
}

export function crc8Byte(crc: number, byte: number): number {
  return TableStore.plainBufferCrc8.crcInt8(crc, byte);
}
