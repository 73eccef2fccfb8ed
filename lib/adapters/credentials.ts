/** Access keys for OSS and Tablestore: the function role's STS keys (`context.credentials`). */
export interface CloudCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** Identity of a credential set, to rebuild SDK clients when FC hands out fresh STS keys. */
export function credentialsFingerprint(c: CloudCredentials): string {
  return `${c.accessKeyId}:${c.securityToken ?? ''}`;
}
