/**
 * DashScope writes times like `2024-11-01 09:50:56.081`, in Beijing time (UTC+8) with no zone.
 * Returns the same instant as an ISO string with its offset, or undefined for any other shape.
 */
export function beijingWithOffset(value: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)$/.exec(value.trim());
  return m ? `${m[1]}T${m[2]}+08:00` : undefined;
}
