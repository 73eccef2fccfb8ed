/**
 * CRC-64 as OSS reports it in `x-oss-hash-crc64ecma`: the ECMA-182 polynomial, reflected, with
 * all-ones initial value and final XOR (the "CRC-64/XZ" parameters; oss2 `utils.Crc64` uses
 * crcmod with poly 0x142F0E1EBA9EA3693, rev=True, xorOut=0xFFFFFFFFFFFFFFFF). A multipart object's
 * value is the CRC of its whole body, which is what the SDKs' part-by-part combination yields.
 * Two 32-bit halves instead of BigInt per byte: fast enough for every upload.
 */

/** The reflected ECMA-182 polynomial 0xC96C5795D7870F42 as two 32-bit halves. */
const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;

const TABLE_HI = new Uint32Array(256);
const TABLE_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let bit = 0; bit < 8; bit++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0;
      lo = (lo ^ POLY_LO) >>> 0;
    }
  }
  TABLE_HI[n] = hi;
  TABLE_LO[n] = lo;
}

/** The CRC-64 of `data` as the unsigned decimal string OSS puts in the header. */
export function crc64(data: Uint8Array): string {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | (hi << 24)) ^ TABLE_LO[idx]!) >>> 0;
    hi = ((hi >>> 8) ^ TABLE_HI[idx]!) >>> 0;
  }
  hi = (hi ^ 0xffffffff) >>> 0;
  lo = (lo ^ 0xffffffff) >>> 0;
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}
