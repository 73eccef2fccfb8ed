/**
 * DashScope writes times like `2024-11-01 09:50:56.081`, in Beijing time (UTC+8) with no zone.
 * Returns the same instant as an ISO string with its offset, or undefined for any other shape.
 */
export function beijingWithOffset(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(value.trim());
  return m ? `${m[1]}T${m[2]}+08:00` : undefined;
}

/** DashScope's Beijing time as ISO 8601 UTC (manifests); a value of another shape as it is. */
export function dashscopeTimeToIso(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const withOffset = beijingWithOffset(value);
  if (!withOffset) return value;
  const ms = Date.parse(withOffset);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
