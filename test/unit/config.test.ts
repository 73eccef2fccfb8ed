import { describe, expect, it } from 'vitest';
import { loadConfig, CONFIG_KEYS } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

const minimal = {
  DASHSCOPE_API_KEY: 'sk-0123456789abcdef0123',
  OSS_BUCKET: 'my-sketches',
  TABLESTORE_ENDPOINT: 'https://inst.cn-beijing.ots.aliyuncs.com',
  TABLESTORE_INSTANCE: 'inst',
};

describe('loadConfig', () => {
  it('fills the documented defaults', () => {
    const c = loadConfig(minimal);
    expect(c).toMatchObject({
      dashscope: { baseUrl: 'https://dashscope.aliyuncs.com/api/v1' },
      oss: { bucket: 'my-sketches', region: 'oss-cn-beijing' },
      tablestore: { table: 'sketchflow_jobs' },
      sketchPrefix: 'sketches/',
      defaults: { style: '<auto>', n: 1 },
      fit: 'pad',
      maxInFlight: 2,
      maxAttempts: 3,
      maxImagesPerDay: 500,
      sketchUrlTtlSeconds: 1800,
      pollIntervalMs: 2000,
      pollBudgetMs: 50_000,
      promptGraceMs: 600_000,
    });
  });

  it('names every problem in one message, without echoing the API key', () => {
    let err: ConfigError | undefined;
    try {
      loadConfig({ ...minimal, DASHSCOPE_API_KEY: undefined, MAX_IN_FLIGHT: 'abc', FIT: 'stretch', DEFAULT_N: '7' });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.problems).toHaveLength(4);
    expect(err!.message).toContain('DASHSCOPE_API_KEY is required');
    expect(err!.message).toContain('MAX_IN_FLIGHT must be an integer 1–16 (got "abc")');
    expect(err!.message).toContain("FIT must be 'pad', 'crop' or 'reject' (got \"stretch\")");
    expect(err!.message).toContain('DEFAULT_N must be an integer 1–4 (got "7")');
  });

  it('treats empty variables as unset and accepts styles without brackets', () => {
    expect(loadConfig({ ...minimal, OSS_ENDPOINT: '', DEFAULT_STYLE: 'Anime' })).toMatchObject({ oss: { endpoint: undefined }, defaults: { style: '<anime>' } });
  });

  it('accepts fractional seconds for fast local runs', () => {
    expect(loadConfig({ ...minimal, POLL_INTERVAL_SECONDS: '0.05' }).pollIntervalMs).toBe(50);
  });

  it('exposes the setting names s.yaml must pass', () => {
    expect(CONFIG_KEYS).toContain('DASHSCOPE_API_KEY');
    expect(CONFIG_KEYS).toContain('PROMPT_GRACE_SECONDS');
  });
});
