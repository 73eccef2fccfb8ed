/**
 * Figure 7: what one image costs beyond the model, from what a backlog run really did.
 *
 * - Function Compute: every invocation the run made (submit for each upload event, skipped
 *   outputs included; poller timer firings and kicks, those that exit at once included) at 75 CU
 *   per 10,000, plus billed time × (vCPU + 0.15 × GB) of the function's s.yaml size. Billed time
 *   is wall time: the virtual time an invocation spent asleep (the poller waiting between passes)
 *   plus its real processing time here, on loopback emulators (the real services are farther).
 * - Tablestore: capacity units by the service's 4 KB rule from the sizes of the rows the functions
 *   read and wrote (metering.ts). Cross-check kept in the JSON: an upper bound from the emulator's
 *   request records, 1 read CU per row scanned (min 1 a request), 1 write CU per row written, 1
 *   read CU per write for its condition check.
 * - OSS: successful requests made with the function role's STS keys (the functions, and DashScope
 *   fetching presigned sketch URLs), by billing class; image processing by source bytes; Internet
 *   egress for DashScope's fetches. The bench's own uploads (the user's) are not counted.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { BacklogRun } from './backlog.js';
import { billedMs } from './harness.js';
import { FC_FACTORS, PRICES } from './prices.js';

export interface FunctionSize {
  memoryMB: number;
  cpu: number;
  diskMB: number;
}

/** memorySize / cpu / diskSize of both functions, as deployed (s.yaml, owned by deploy). */
export function functionSizes(file = path.join(import.meta.dirname, '..', 's.yaml')): Record<'submit' | 'poller', FunctionSize> {
  const spec = parseYaml(readFileSync(file, 'utf8')) as { resources: Record<string, { props: { memorySize?: number; cpu?: number; diskSize?: number } }> };
  const size = (name: string): FunctionSize => {
    const props = spec.resources[name]?.props;
    if (!props?.memorySize || !props.cpu) throw new Error(`s.yaml: ${name} has no memorySize/cpu`);
    return { memoryMB: props.memorySize, cpu: props.cpu, diskMB: props.diskSize ?? 512 };
  };
  return { submit: size('submit'), poller: size('poller') };
}

export interface CostLine {
  item: string;
  quantityPerImage: number;
  unit: string;
  cnyPerImage: number;
}

export interface CostFigure {
  images: number;
  lines: CostLine[];
  fc: {
    invocationsPerImage: Record<string, number>;
    billedSecondsPerImage: Record<'submit' | 'poller', number>;
    cuPerImage: number;
    sizes: Record<'submit' | 'poller', FunctionSize>;
  };
  tablestore: {
    readCuPerImage: number;
    writeCuPerImage: number;
    requestsPerImage: number;
    /** Where they go: row calls per image by `<function(trigger)> <operation> <row kind>` (metering.ts). */
    callsPerImage: Record<string, number>;
    upperBound: { readCuPerImage: number; writeCuPerImage: number };
  };
  oss: { putPerImage: number; getPerImage: number; imgBytesPerImage: number; egressBytesPerImage: number };
  totalCnyPerImage: number;
  percentOfModel: number;
}

/** CU per second of billed time for a function of this size: vCPU, memory and disk beyond 512 MB. */
function cuPerSecond(size: FunctionSize): number {
  return size.cpu * FC_FACTORS.vcpuSecond + (size.memoryMB / 1024) * FC_FACTORS.gbSecond + (Math.max(0, size.diskMB - 512) / 1024) * FC_FACTORS.diskGbSecond;
}

const PUT_TYPE = new Set(['oss:PutObject', 'oss:DeleteObject', 'oss:ListObjects', 'oss:InitiateMultipartUpload', 'oss:UploadPart', 'oss:CompleteMultipartUpload', 'oss:AbortMultipartUpload']);

export function costPerImage(run: BacklogRun, sizes = functionSizes()): CostFigure {
  const images = run.images;
  const per = (x: number) => x / images;
  const cnyPerCu = PRICES.fcCu.value * PRICES.usdCny.value;

  // ---- Function Compute
  const invocations: Record<string, number> = {};
  const billedS = { submit: 0, poller: 0 };
  for (const inv of run.invocations) {
    let kind: string = inv.fn;
    if (inv.fn === 'submit') {
      const outcomes = (inv.result as { outcomes?: Array<{ action: string }> } | undefined)?.outcomes ?? [];
      kind = `submit (${outcomes[0]?.action ?? (inv.ok ? 'none' : 'failed')})`;
    } else {
      const result = inv.result as { ran?: boolean; followed?: string[] } | undefined;
      if (inv.trigger === 'event') kind = `poller event${result?.followed?.length ? '' : ' (no task of ours)'}`;
      else kind = `poller ${inv.trigger}${result?.ran ? '' : ' (exited: lease held)'}`;
    }
    invocations[kind] = (invocations[kind] ?? 0) + 1;
    billedS[inv.fn] += billedMs(inv) / 1000;
  }
  const invocationCu = (run.invocations.length * FC_FACTORS.per10kInvocations) / 10_000;
  const cuPerS = { submit: cuPerSecond(sizes.submit), poller: cuPerSecond(sizes.poller) };

  // ---- Tablestore: metered; and the upper bound from the emulator's records
  const { readCu, writeCu } = run.tablestoreCu;
  let readBound = 0;
  let writeBound = 0;
  for (const r of run.tablestore) {
    const failedCondition = r.errorCode === 'OTSConditionCheckFail';
    if (r.status !== 200 && !failedCondition) continue;
    switch (r.operation) {
      case 'GetRow':
      case 'BatchGetRow':
      case 'GetRange':
        readBound += Math.max(1, r.rowsRead);
        break;
      case 'PutRow':
      case 'UpdateRow':
      case 'DeleteRow':
      case 'BatchWriteRow':
        writeBound += Math.max(1, r.rowsWritten);
        readBound += Math.max(1, r.rowsWritten);
        break;
      default:
        break;
    }
  }

  // ---- OSS
  let put = 0;
  let get = 0;
  let imgBytes = 0;
  let egressBytes = 0;
  for (const r of run.oss) {
    if (!r.accessKeyId?.startsWith('STS.') || r.status < 200 || r.status >= 400) continue;
    if (PUT_TYPE.has(r.action)) put++;
    else get++;
    const bytes = r.key ? (run.objectBytes.get(r.key) ?? 0) : 0;
    if (r.process) imgBytes += bytes;
    if (r.presigned && r.method === 'GET') egressBytes += bytes;
  }

  const GB = 1e9;
  const lines: CostLine[] = [
    { item: 'FC invocations', quantityPerImage: per(run.invocations.length), unit: 'invocations', cnyPerImage: per(invocationCu) * cnyPerCu },
    { item: 'FC submit time', quantityPerImage: per(billedS.submit), unit: `s at ${sizes.submit.cpu} vCPU/${sizes.submit.memoryMB} MB`, cnyPerImage: per(billedS.submit) * cuPerS.submit * cnyPerCu },
    { item: 'FC poller time', quantityPerImage: per(billedS.poller), unit: `s at ${sizes.poller.cpu} vCPU/${sizes.poller.memoryMB} MB`, cnyPerImage: per(billedS.poller) * cuPerS.poller * cnyPerCu },
    { item: 'Tablestore reads', quantityPerImage: per(readCu), unit: 'read CU (4 KB rule, metered)', cnyPerImage: (per(readCu) / 10_000) * PRICES.tablestoreRead.value },
    { item: 'Tablestore writes', quantityPerImage: per(writeCu), unit: 'write CU', cnyPerImage: (per(writeCu) / 10_000) * PRICES.tablestoreWrite.value },
    { item: 'OSS PUT-type requests', quantityPerImage: per(put), unit: 'requests', cnyPerImage: (per(put) / 10_000) * PRICES.ossPut.value },
    { item: 'OSS GET-type requests', quantityPerImage: per(get), unit: 'requests', cnyPerImage: (per(get) / 10_000) * PRICES.ossGet.value },
    { item: 'OSS image processing', quantityPerImage: per(imgBytes), unit: 'source bytes', cnyPerImage: (per(imgBytes) / GB) * PRICES.ossImg.value },
    { item: 'OSS Internet egress', quantityPerImage: per(egressBytes), unit: 'bytes (DashScope fetching sketches)', cnyPerImage: (per(egressBytes) / GB) * PRICES.ossEgress.value },
  ];
  const total = lines.reduce((s, l) => s + l.cnyPerImage, 0);
  return {
    images,
    lines,
    fc: {
      invocationsPerImage: Object.fromEntries(Object.entries(invocations).map(([k, v]) => [k, per(v)])),
      billedSecondsPerImage: { submit: per(billedS.submit), poller: per(billedS.poller) },
      cuPerImage: per(invocationCu + billedS.submit * cuPerS.submit + billedS.poller * cuPerS.poller),
      sizes,
    },
    tablestore: {
      readCuPerImage: per(readCu),
      writeCuPerImage: per(writeCu),
      requestsPerImage: per(run.tablestore.length),
      callsPerImage: Object.fromEntries(
        Object.entries(run.tablestoreCu.requests)
          .sort((a, b) => b[1] - a[1])
          .map(([k, v]) => [k, Math.round(per(v) * 100) / 100]),
      ),
      upperBound: { readCuPerImage: per(readBound), writeCuPerImage: per(writeBound) },
    },
    oss: { putPerImage: per(put), getPerImage: per(get), imgBytesPerImage: per(imgBytes), egressBytesPerImage: per(egressBytes) },
    totalCnyPerImage: total,
    percentOfModel: (total / PRICES.model.value) * 100,
  };
}
