import { parse, type Command } from './io.js';

/** `sketchflow emulators [--json]` (SPEC §7): the three stand-ins on loopback until interrupted. */
export const emulators: Command = async (args, io) => {
  const { values } = parse(args, { json: { type: 'boolean' } });
  const { startLocalStack } = await import('../local/stack.js');
  const stack = await startLocalStack();
  const endpoints = stack.describe();
  if (values.json) {
    // `region` is ali-oss's form (oss-cn-beijing); V4 signers elsewhere (oss2, alibabacloud-oss-v2) want the region id.
    const oss = { ...endpoints.oss, regionId: endpoints.oss.region.replace(/^oss-/, '') };
    io.stdout(`${JSON.stringify({ ...endpoints, oss })}\n`);
  } else {
    io.stdout(
      [
        `OSS         ${endpoints.oss.endpoint}  bucket ${endpoints.oss.bucket}`,
        `Tablestore  ${endpoints.tablestore.endpoint}  instance ${endpoints.tablestore.instance}`,
        `DashScope   ${endpoints.dashscope.baseUrl}`,
        `access key  ${endpoints.oss.accessKeyId} / ${endpoints.oss.accessKeySecret}`,
        `api key     ${endpoints.dashscope.apiKey}`,
        'Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  }
  await io.interrupted();
  await stack.close();
  return 0;
};
