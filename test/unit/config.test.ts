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
      defaults: { style: '<auto>', n: 1, model: 'wanx-sketch-to-image-lite' },
      models: ['wanx-sketch-to-image-lite', 'wanx2.1-imageedit', 'wan2.5-i2i-preview'],
      maxMilliCnyPerDay: 0,
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

  it('models: DEFAULT_MODEL among MODELS, MODELS among the known ones, MAX_CNY_PER_DAY an amount', () => {
    const c = loadConfig({ ...minimal, DEFAULT_MODEL: 'wan2.5-i2i-preview', MODELS: 'wan2.5-i2i-preview, wanx2.1-imageedit', MAX_CNY_PER_DAY: '12.5' });
    expect(c).toMatchObject({ defaults: { model: 'wan2.5-i2i-preview' }, models: ['wan2.5-i2i-preview', 'wanx2.1-imageedit'], maxMilliCnyPerDay: 12_500 });
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...minimal, ...env });
      } catch (e) {
        return (e as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ DEFAULT_MODEL: 'dall-e-3' })).toEqual(['DEFAULT_MODEL must be one of wanx-sketch-to-image-lite, wanx2.1-imageedit, wan2.5-i2i-preview (got "dall-e-3")']);
    expect(problems({ MODELS: 'wanx2.1-imageedit' })).toEqual(['DEFAULT_MODEL must be one of MODELS (wanx2.1-imageedit)']);
    expect(problems({ MODELS: 'wanx-sketch-to-image-lite,flux' })[0]).toMatch(/^MODELS must list models among/);
    expect(problems({ MAX_CNY_PER_DAY: '-1' })).toEqual(['MAX_CNY_PER_DAY must be an amount ≥ 0 (got "-1")']);
    // A default that could never be sent would wedge every job that takes it.
    expect(problems({ MAX_CNY_PER_DAY: '0.1', DEFAULT_N: '2' })[0]).toMatch(/^MAX_CNY_PER_DAY must allow DEFAULT_N \(2\) images of DEFAULT_MODEL \(CNY 0.06 each\)/);
  });
});

