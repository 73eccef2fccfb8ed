/** String helpers shared by the local emulators. */

/**
 * Orders two strings by their UTF-8 bytes (memcmp order), as OSS lists keys, OSS V4 signing sorts
 * query names and Tablestore orders column names and STRING values. This differs from JS's UTF-16
 * order for characters beyond U+FFFF. Lone surrogates count as U+FFFD (EF BF BD), as
 * Buffer.from encodes them. Returns -1, 0 or 1.
 */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
