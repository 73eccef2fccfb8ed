import { randomBytes } from 'node:crypto';

/**
 * Access keys the local emulators accept. One store is shared by the OSS and Tablestore
 * emulators, because Function Compute hands a function one set of STS keys for both.
 */
export interface AccessKey {
  accessKeyId: string;
  accessKeySecret: string;
  /** Present for STS keys: requests must carry it (x-oss-security-token / x-ots-ststoken). */
  securityToken?: string;
  /** Epoch ms after which the key is refused (STS keys expire). */
  expiresAt?: number;
}

export class CredentialStore {
  private readonly keys = new Map<string, AccessKey>();

  constructor(initial: AccessKey[] = []) {
    for (const key of initial) this.add(key);
  }

  add(key: AccessKey): AccessKey {
    this.keys.set(key.accessKeyId, key);
    return key;
  }

  get(accessKeyId: string): AccessKey | undefined {
    return this.keys.get(accessKeyId);
  }

  /** Every key issued or added so far, long-lived and STS (tests check none of them leaks). */
  all(): AccessKey[] {
    return [...this.keys.values()];
  }

  /** A fresh long-lived key pair, like a RAM user's AccessKey. */
  issueAccessKey(): AccessKey {
    return this.add({
      accessKeyId: `LTAI${randomBytes(8).toString('hex')}`,
      accessKeySecret: randomBytes(15).toString('base64url'),
    });
  }

  /** Temporary keys as FC puts them in `context.credentials` (ids start with `STS.`). */
  issueStsToken(ttlMs = 36 * 3600_000, now = Date.now()): Required<Pick<AccessKey, 'accessKeyId' | 'accessKeySecret' | 'securityToken'>> {
    const key = this.add({
      accessKeyId: `STS.${randomBytes(10).toString('hex')}`,
      accessKeySecret: randomBytes(20).toString('base64url'),
      securityToken: `CAIS${randomBytes(48).toString('base64url')}`,
      expiresAt: now + ttlMs,
    });
    return { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, securityToken: key.securityToken! };
  }
}
