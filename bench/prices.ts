/**
 * Published unit prices the cost figure uses, each with its source and the date it was read
 * (2026-11-25, from the stored copies the bench's author could reach). "estimate" marks a value
 * no available source states for this exact item; change it here when a better source turns up.
 * Region: cn-beijing, pay-as-you-go, no free quota or resource plan counted.
 */
export const PRICES_READ_ON = '2026-11-25';

export interface Price {
  value: number;
  unit: string;
  source: string;
  estimate?: boolean;
}

export const PRICES = {
  model: {
    value: 0.06,
    unit: 'CNY per image',
    source: 'wanx-sketch-to-image-lite, docs/reference/dashscope.md (Model Studio pricing, S-EN/S-ZH-A)',
  },
  fcCu: {
    value: 0.00002,
    unit: 'USD per CU (tier 1, 0–100 M CU a month)',
    source: 'https://www.alibabacloud.com/help/en/functioncompute/fc-3-0/product-overview/pay-as-you-go-billing-method-1 (also fc.md §5.4)',
  },
  usdCny: {
    value: 7.2,
    unit: 'CNY per USD',
    source: 'exchange rate, not a price list',
    estimate: true,
  },
  tablestoreRead: {
    value: 0.01,
    unit: 'CNY per 10,000 metered read CU (high-performance instance)',
    source: 'https://help.aliyun.com/zh/tablestore/product-overview/billing-examples (metered read 0.01/10k CU in its example)',
  },
  tablestoreWrite: {
    value: 0.01,
    unit: 'CNY per 10,000 metered write CU',
    source: 'taken equal to the read price: no available source states the write price',
    estimate: true,
  },
  ossPut: {
    value: 0.01,
    unit: 'CNY per 10,000 PUT-type requests (Standard, LRS)',
    source: 'third-party summary of the OSS price list, https://kandaoni.com/news/26917.html; request classes: https://help.aliyun.com/en/oss/api-operation-calling-fees',
    estimate: true,
  },
  ossGet: {
    value: 0.01,
    unit: 'CNY per 10,000 GET-type requests (Standard, LRS)',
    source: 'same as PUT-type (kandaoni.com summary)',
    estimate: true,
  },
  ossImg: {
    value: 0.025,
    unit: 'CNY per GB of source image processed (x-oss-process)',
    source: 'no available source; order of magnitude from memory of the OSS price list',
    estimate: true,
  },
  ossEgress: {
    value: 0.5,
    unit: 'CNY per GB Internet outbound (08:00–24:00; DashScope fetching the sketch URL)',
    source: 'third-party summary, https://kandaoni.com/news/26917.html',
    estimate: true,
  },
} satisfies Record<string, Price>;

/** FC 3.0 CU factors (same source as fcCu). */
export const FC_FACTORS = {
  per10kInvocations: 75,
  vcpuSecond: 1,
  gbSecond: 0.15,
  /** Disk beyond the default 512 MB only (whether 512 MB is billed is unconfirmed, fc.md §5.4). */
  diskGbSecond: 0.05,
};
