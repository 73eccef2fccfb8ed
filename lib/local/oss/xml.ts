/** The small amount of XML OSS speaks: escaping, a tiny serializer and the error document. */
import { OssError } from './errors.js';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, ent: string) => {
    if (ent[0] === '#') return String.fromCodePoint(ent[1] === 'x' ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[ent]!;
  });
}

/** A node: text, a list of child nodes (repeated elements), or an object of named children. */
export type XmlNode = string | number | boolean | XmlNode[] | { [name: string]: XmlNode | undefined };

function render(name: string, node: XmlNode | undefined, out: string[]): void {
  if (node === undefined) return;
  if (Array.isArray(node)) {
    for (const item of node) render(name, item, out);
    return;
  }
  if (typeof node === 'object') {
    out.push(`<${name}>`);
    for (const [child, value] of Object.entries(node)) render(child, value, out);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(node))}</${name}>`);
}

/**
 * Times as OSS writes them in XML bodies and error details: ISO 8601 in UTC, whole seconds with a
 * literal `.000` (`2012-02-24T08:42:32.000Z`). oss2's parser accepts nothing else, and two uploads
 * in the same second list with equal times, as they do on OSS.
 */
export const iso = (ms: number): string => new Date(Math.floor(ms / 1000) * 1000).toISOString();

export function xmlDocument(root: string, body: XmlNode): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  render(root, body, out);
  return out.join('');
}

export function errorXml(err: OssError, requestId: string, hostId: string): string {
  const body: Record<string, XmlNode> = { Code: err.code, Message: err.message, RequestId: requestId, HostId: hostId };
  for (const [k, v] of Object.entries(err.extra)) body[k] = v;
  if (err.ec) body.EC = err.ec;
  return xmlDocument('Error', body);
}
