import { describe, expect, it } from 'vitest';
import { createLogger } from '../../lib/log.js';
import { redact, registerSecret } from '../../lib/redact.js';

describe('redact', () => {
  it('removes V4 and V1 URL signatures and credentials', () => {
    const url =
      'http://b.oss-cn-beijing.aliyuncs.com/k.png?x-oss-credential=LTAI123%2F20250101%2Fcn-beijing%2Foss%2Faliyun_v4_request&x-oss-date=20250101T000000Z&x-oss-expires=1800&x-oss-signature=abcdef0123456789abcdef&x-oss-security-token=CAISxyz';
    const out = redact(url);
    expect(out).not.toContain('abcdef0123456789abcdef');
    expect(out).not.toContain('LTAI123');
    expect(out).not.toContain('CAISxyz');
    expect(out).toContain('x-oss-date=20250101T000000Z');
    expect(redact('?OSSAccessKeyId=LTAI&Expires=1&Signature=abc%2B')).toBe('?OSSAccessKeyId=[REDACTED]&Expires=1&Signature=[REDACTED]');
  });

  it('removes bearer tokens, DashScope keys and registered secrets', () => {
    registerSecret('my-very-secret-value');
    expect(redact('Authorization: Bearer sk-abcdefabcdefabcdef12')).toBe('Authorization: Bearer [REDACTED]');
    expect(redact('key sk-abcdefabcdefabcdef12 leaked')).toBe('key sk-[REDACTED] leaked');
    expect(redact('x my-very-secret-value y')).toBe('x [REDACTED] y');
  });

  it('applies to every log line', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: (l) => lines.push(l) });
    log.info('created', { url: 'https://x/k?x-oss-signature=deadbeefdeadbeef', error: new Error('Bearer sk-abcdefabcdefabcdef12 refused') });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('deadbeefdeadbeef');
    expect(lines[0]).not.toContain('abcdefabcdefabcdef12');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'created' });
  });
});
