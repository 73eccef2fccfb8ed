/**
 * Local mode's timings (lib/local/session.ts): the cloud's (timer every minute, poll every 2 s,
 * 50 s budget, 10 min prompt grace, 30 s safety kick) scaled by the simulator's task time
 * against the real model's ~20 s; the user's settings win; the cloud's endpoints never leak in.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { localSettings } from '../../lib/local/session.js';

const base = { dir: '/tmp/x', dashscope: 'sim' as const };

describe('localSettings', () => {
  it('scales the cloud timings by task seconds / 20 (default 3 s tasks)', () => {
    const s = localSettings({ ...base, env: {} });
    expect(s.taskSeconds).toBe(3);
    expect(s.factor).toBeCloseTo(0.15);
    expect(s.timerEveryMs).toBe(9000); // the one-minute timer
    expect(s.env).toMatchObject({ POLL_INTERVAL_SECONDS: '0.3', POLL_BUDGET_SECONDS: '7.5', PROMPT_GRACE_SECONDS: '90', EVENT_SAFETY_SECONDS: '4.5', LOG_LEVEL: 'info' });
  });

  it('keeps floors when tasks are very short, and --once waits 3 s for prompts', () => {
    const s = localSettings({ ...base, env: {}, taskSeconds: 0.01, once: true });
    expect(s.timerEveryMs).toBe(500);
    expect(s.env).toMatchObject({ POLL_INTERVAL_SECONDS: '0.05', POLL_BUDGET_SECONDS: '1', PROMPT_GRACE_SECONDS: '3' });
  });

  it("the user's settings win; the cloud's endpoints and keys in the shell are not used", () => {
    const s = localSettings({
      ...base,
      env: { PROMPT_GRACE_SECONDS: '5', MAX_IN_FLIGHT: '1', OSS_BUCKET: 'prod-bucket', TABLESTORE_ENDPOINT: 'https://prod.cn-beijing.ots.aliyuncs.com', DASHSCOPE_API_KEY: 'sk-prod' },
    });
    expect(s.env).toMatchObject({ PROMPT_GRACE_SECONDS: '5', MAX_IN_FLIGHT: '1' });
    expect(s.env.OSS_BUCKET).toBeUndefined();
    expect(s.env.TABLESTORE_ENDPOINT).toBeUndefined();
    expect(s.env.DASHSCOPE_API_KEY).toBeUndefined();
  });

  it('a bad setting stops with a ConfigError naming it', () => {
    expect(() => localSettings({ ...base, env: { MAX_IN_FLIGHT: 'abc' } })).toThrow(ConfigError);
    expect(() => localSettings({ ...base, env: { MAX_IN_FLIGHT: 'abc' } })).toThrow(/MAX_IN_FLIGHT/);
  });
});
