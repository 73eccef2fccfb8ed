/**
 * Which OSS operation a request is, and the RAM actions it needs (for `records` and for fault
 * matching). CopyObject needs oss:GetObject on the source as well as oss:PutObject on the target.
 */
import type { OpContext } from './context.js';
import { E } from './errors.js';
import { deleteMultipleObjects, getBucketInfo, getBucketLocation, listObjects, listObjectsV2 } from './ops-bucket.js';
import { copyObject, deleteObject, getObject, getObjectMeta, headObject, parseCopySource, putObject } from './ops-object.js';
import { MULTIPART_ACTIONS, MultipartUploads } from './ops-multipart.js';
import { listBuckets } from './ops-service.js';
import { hasQuery, queryValue, type QueryParam, type Target } from './request-url.js';

export interface RouteAction {
  action: string;
  bucket: string;
  key?: string;
}

export interface Route {
  /** OSS API name, e.g. 'PutObject'. */
  name: string;
  actions: RouteAction[];
  run(ctx: OpContext): void | Promise<void>;
}

const unsupported = (name: string, action: string, target: Target): Route => ({
  name,
  actions: [{ action, bucket: target.bucket, key: target.key || undefined }],
  run: () => {
    throw E.notImplemented();
  },
});

export function route(method: string, target: Target, query: QueryParam[], headers: Record<string, string>, multipart: MultipartUploads): Route {
  const { bucket, key } = target;
  const one = (name: string, action: string, run: Route['run']): Route => ({ name, actions: [{ action, bucket, key: key || undefined }], run });

  if (bucket === '') {
    if (method === 'GET') return one('ListBuckets', 'oss:ListBuckets', listBuckets);
    return one(`${method} /`, 'oss:Unknown', () => {
      throw E.methodNotAllowed();
    });
  }

  const mp = MultipartUploads.kind(method, key, query);
  if (mp) {
    const [name, action] = MULTIPART_ACTIONS[mp];
    return one(name, action, (ctx) => multipart[mp](ctx));
  }

  if (key === '') {
    if (method === 'GET') {
      if (hasQuery(query, 'location')) return one('GetBucketLocation', 'oss:GetBucketLocation', getBucketLocation);
      if (hasQuery(query, 'bucketInfo')) return one('GetBucketInfo', 'oss:GetBucketInfo', getBucketInfo);
      for (const sub of ['acl', 'cors', 'lifecycle', 'logging', 'website', 'referer', 'policy', 'versioning', 'tagging', 'stat']) {
        if (hasQuery(query, sub)) return unsupported(`GetBucket ?${sub}`, `oss:GetBucket${sub[0]!.toUpperCase()}${sub.slice(1)}`, target);
      }
      if (queryValue(query, 'list-type') === '2') return one('ListObjectsV2', 'oss:ListObjects', listObjectsV2);
      return one('ListObjects', 'oss:ListObjects', listObjects);
    }
    if (method === 'POST' && hasQuery(query, 'delete')) return one('DeleteMultipleObjects', 'oss:DeleteObject', deleteMultipleObjects);
    if (method === 'PUT') return unsupported('PutBucket and bucket configuration', 'oss:PutBucket', target);
    if (method === 'DELETE') return unsupported('DeleteBucket', 'oss:DeleteBucket', target);
    return one('Bucket', 'oss:GetBucketInfo', () => {
      throw E.methodNotAllowed();
    });
  }

  switch (method) {
    case 'GET':
      for (const sub of ['acl', 'tagging', 'symlink']) {
        if (hasQuery(query, sub)) return unsupported(`GetObject ?${sub}`, 'oss:GetObject', target);
      }
      return one('GetObject', 'oss:GetObject', getObject);
    case 'HEAD':
      if (hasQuery(query, 'objectMeta')) return one('GetObjectMeta', 'oss:GetObject', getObjectMeta);
      return one('HeadObject', 'oss:GetObject', headObject);
    case 'PUT': {
      for (const sub of ['acl', 'tagging', 'symlink']) {
        if (hasQuery(query, sub)) return unsupported(`PutObject ?${sub}`, 'oss:PutObject', target);
      }
      const copySource = headers['x-oss-copy-source'];
      if (copySource !== undefined) {
        let source: RouteAction = { action: 'oss:GetObject', bucket, key: undefined };
        try {
          const s = parseCopySource(copySource);
          source = { action: 'oss:GetObject', bucket: s.bucket, key: s.key };
        } catch {
          // reported by copyObject itself
        }
        return { name: 'CopyObject', actions: [source, { action: 'oss:PutObject', bucket, key }], run: copyObject };
      }
      return one('PutObject', 'oss:PutObject', putObject);
    }
    case 'DELETE':
      if (hasQuery(query, 'tagging')) return unsupported('DeleteObjectTagging', 'oss:DeleteObjectTagging', target);
      return one('DeleteObject', 'oss:DeleteObject', deleteObject);
    case 'POST':
      if (hasQuery(query, 'append')) return unsupported('AppendObject', 'oss:PutObject', target);
      if (hasQuery(query, 'restore')) return unsupported('RestoreObject', 'oss:RestoreObject', target);
      return unsupported(`POST ${hasQuery(query, 'x-oss-process') ? 'x-oss-process (save as)' : 'object'}`, 'oss:PostProcessTask', target);
    default:
      return one(method, 'oss:Unknown', () => {
        throw E.methodNotAllowed();
      });
  }
}
