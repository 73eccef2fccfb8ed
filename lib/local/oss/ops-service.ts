/** The service-level operation: ListBuckets (GetService), `GET /` on an endpoint that names no bucket. */
import { xmlReply, type OpContext } from './context.js';
import { E } from './errors.js';
import { queryValue } from './request-url.js';
import { compareKeys } from './store.js';
import { iso } from './xml.js';

export function listBuckets(ctx: OpContext): void {
  const prefix = queryValue(ctx.query, 'prefix') ?? '';
  const marker = queryValue(ctx.query, 'marker') ?? '';
  const maxRaw = queryValue(ctx.query, 'max-keys');
  const maxKeys = maxRaw === undefined || maxRaw === '' ? 100 : Number(maxRaw);
  if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > 1000) throw E.invalidArgument('max-keys must be an integer from 1 to 1000.', 'max-keys', maxRaw ?? '');
  const all = ctx.env
    .buckets()
    .filter((b) => b.name.startsWith(prefix) && compareKeys(b.name, marker) > 0)
    .sort((a, b) => compareKeys(a.name, b.name));
  const page = all.slice(0, maxKeys);
  const truncated = all.length > page.length;
  const region = ctx.env.regionId;
  xmlReply(ctx, 'ListAllMyBucketsResult', {
    Prefix: queryValue(ctx.query, 'prefix'),
    Marker: queryValue(ctx.query, 'marker'),
    MaxKeys: maxRaw !== undefined ? maxKeys : undefined,
    IsTruncated: truncated ? true : undefined,
    NextMarker: truncated ? page.at(-1)!.name : undefined,
    Owner: { ID: ctx.env.accountId, DisplayName: ctx.env.accountId },
    Buckets: {
      Bucket: page.map((b) => ({
        CreationDate: iso(b.created),
        ExtranetEndpoint: `${region}.aliyuncs.com`,
        IntranetEndpoint: `${region}-internal.aliyuncs.com`,
        Location: region,
        Name: b.name,
        Region: region.replace(/^oss-/, ''),
        StorageClass: 'Standard',
      })),
    },
  });
}
