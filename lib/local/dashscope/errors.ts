/**
 * The service's error vocabulary, in one place, so that every error the simulator produces —
 * natural or injected — has the real shape: HTTP status + flat `{code, message, request_id}`.
 * Codes and messages follow docs/reference/dashscope.md §1–3; the few marked INVENTED have no
 * published text and are plausible stand-ins.
 */

export interface ApiErrorSpec {
  status: number;
  code: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static of(spec: ApiErrorSpec): ApiError {
    return new ApiError(spec.status, spec.code, spec.message);
  }
}

/** Request-level errors (create/query/cancel/list). */
export const E = {
  noApiKey: { status: 401, code: 'InvalidApiKey', message: 'No API-key provided.' },
  invalidApiKey: { status: 401, code: 'InvalidApiKey', message: 'Invalid API-key provided.' },
  syncNotSupported: { status: 403, code: 'AccessDenied', message: 'current user api does not support synchronous calls' },
  // Seen from the real service for an unknown model name (400, not 404).
  modelNotExist: { status: 400, code: 'InvalidParameter', message: 'Model not exist.' },
  rateQuota: { status: 429, code: 'Throttling.RateQuota', message: 'Requests rate limit exceeded, please try again later.' },
  // INVENTED: cancel response codes are unconfirmed; one code for "not cancellable" keeps clients simple.
  cancelNotPending: {
    status: 400,
    code: 'UnsupportedOperation',
    message: 'Failed to cancel the task, please confirm if the task is in PENDING status.',
  },
  notFound: { status: 404, code: 'NotFound', message: 'Not Found.' },
  // INVENTED: what an unknown task id gets under the cancelUnknown 'not-found' switch.
  taskNotFound: { status: 404, code: 'NotFound', message: 'The task does not exist.' },
  // INVENTED text for the cancelNotPending 'invalid-parameter' switch.
  cancelInvalid: { status: 400, code: 'InvalidParameter', message: 'The task can not be canceled in its current status.' },
  // Reported by many clients for a model sent to another task's path (dashscope.md §A).
  urlError: { status: 400, code: 'InvalidParameter', message: 'url error, please check url! For details, see: https://help.aliyun.com/zh/model-studio/error-code#error-url' },
  // A wider list window than the API takes (the docs: at most 24 hours; the text is INVENTED).
  listWindow: { status: 400, code: 'InvalidParameter', message: 'Value error, the time range between start_time and end_time must not exceed 24 hours' },
  badJson: { status: 400, code: 'InvalidParameter', message: 'The request body is not a valid JSON object.' },
  // Temporary-upload docs: what an oss:// URL gives without X-DashScope-OssResourceResolve.
  ossNotResolved: {
    status: 400,
    code: 'InvalidParameter.DataInspection',
    message: 'The media format is not supported or incorrect for the data inspection.',
  },
} satisfies Record<string, ApiErrorSpec>;

/**
 * Account-level refusals (issue 13, run 6): statuses and messages from the Model Studio error-code
 * page (docs/reference/dashscope.md §3 and §A). They last until the account is fixed.
 */
export const ACCOUNT_PROBLEMS = ['InvalidApiKey', 'Arrearage', 'AccessDenied.Unpurchased', 'Throttling.AllocationQuota', 'AllocationQuota.FreeTierOnly'] as const;
export type AccountProblem = (typeof ACCOUNT_PROBLEMS)[number];

/** Task-level failures (in `output.code/message` of a FAILED task, or per image). */
export const TASK = {
  downloadFailed: { code: 'InvalidParameter.DataInspection', message: 'Unable to download the media resource during the data inspection process.' },
  downloadTimeout: { code: 'InvalidParameter.DataInspection', message: 'Download the media resource timed out during the data inspection process.' },
  // Expired or tampered signed OSS URL (403 from the bucket).
  downloadForbidden: {
    code: 'InvalidParameter.DataInspection',
    message: "Don't have authorization to access the media resource during the data inspection process.",
  },
  downloadNotFound: {
    code: 'InvalidParameter.DataInspection',
    message: 'Failed to find the requested media resource during the data inspection process.',
  },
  invalidUrl: {
    code: 'InvalidURL',
    message:
      'The request URL is invalid, please check the request URL is available and the request image format is one of the following types: JPEG, JPG, PNG, BMP, and WEBP.',
  },
  resolution: {
    code: 'InvalidFile.Resolution',
    message: 'The image resolution is invalid, please make sure that the aspect ratio is smaller than 2.0, and largest length of image is smaller than 4096.',
  },
  // INVENTED message (the code is catalogued, its text is not published for this model).
  size: { code: 'InvalidFile.Size', message: 'The image size is invalid, please make sure the image file is smaller than 10MB.' },
  timeout: {
    code: 'InternalError.Timeout',
    message: 'An internal timeout error has occured during execution, please try again later or contact service support.',
  },
} as const;

export function badFormat(urlWithoutQuery: string): { code: string; message: string } {
  return { code: 'InvalidParameter', message: `Value error, format of image ${urlWithoutQuery} is not valid : payload.input.sketch` };
}

/** Defaults for injected errors: the catalogue's status and message for each code. */
const CATALOGUE: Record<string, { status: number; message: string }> = {
  Throttling: { status: 429, message: 'Requests throttling triggered.' },
  'Throttling.RateQuota': { status: 429, message: E.rateQuota.message },
  'Throttling.BurstRate': { status: 429, message: 'Request rate increased too quickly. To ensure system stability, please adjust your client logic to scale requests more smoothly over time.' },
  'Throttling.AllocationQuota': { status: 429, message: 'Free allocated quota exceeded.' },
  InternalError: { status: 500, message: 'An internal error has occured, please try again later or contact service support.' },
  'InternalError.Timeout': { status: 500, message: TASK.timeout.message },
  'InternalError.Algo': { status: 500, message: 'An internal error occurred during algorithm execution, please try again later.' },
  SystemError: { status: 500, message: 'An system error has occured, please try again later.' },
  ModelServingError: { status: 500, message: 'Too many requests. Your requests are being throttled due to system capacity limits. Please try again later.' },
  ModelUnavailable: { status: 503, message: 'Model is unavailable, please try again later.' },
  InvalidParameter: { status: 400, message: 'The request is missing required parameters or in a wrong format, please check the parameters that you send.' },
  'InvalidParameter.DataInspection': { status: 400, message: TASK.downloadFailed.message },
  DataInspectionFailed: { status: 400, message: 'Input or output data may contain inappropriate content.' },
  InvalidURL: { status: 400, message: TASK.invalidUrl.message },
  'InvalidFile.Resolution': { status: 400, message: TASK.resolution.message },
  'InvalidFile.Size': { status: 400, message: TASK.size.message },
  Arrearage: { status: 400, message: 'Access denied, please make sure your account is in good standing.' },
  InvalidApiKey: { status: 401, message: E.invalidApiKey.message },
  AccessDenied: { status: 403, message: 'Access denied.' },
  'AccessDenied.Unpurchased': { status: 403, message: 'Access to model denied. Please make sure you are eligible for using the model.' },
  // INVENTED message; the code and status are catalogued.
  'AllocationQuota.FreeTierOnly': { status: 403, message: 'The free tier of the model has been exhausted. If you wish to continue access the model on a paid basis, please disable the "use free tier only" mode in the management console.' },
  UnsupportedOperation: { status: 400, message: E.cancelNotPending.message },
};

/**
 * What a gateway in front of the service answers: not DashScope's JSON. Shapes seen from nginx /
 * SLB-style proxies (an HTML error page), a proxy with no body, or one line of text.
 */
export function gatewayBody(status: number, body: 'html' | 'empty' | 'text'): { contentType?: string; text: string } {
  const reason = { 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' }[status] ?? 'Error';
  if (body === 'empty') return { text: '' };
  if (body === 'text') return { contentType: 'text/plain', text: status === 504 ? 'upstream request timeout' : `${status} ${reason}` };
  return {
    contentType: 'text/html',
    text: `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n`,
  };
}

/** Fills in status/message for a code from the catalogue (500 / generic text for unknown codes). */
export function catalogued(code: string, overrides: { status?: number; message?: string } = {}): ApiErrorSpec {
  const known = CATALOGUE[code];
  return {
    code,
    status: overrides.status ?? known?.status ?? 500,
    message: overrides.message ?? known?.message ?? 'An internal error has occured, please try again later or contact service support.',
  };
}

/** OSS-style XML error, as the result bucket and the upload host answer. */
export function ossXmlError(code: string, message: string, requestId: string, hostId: string, extra: Record<string, string> = {}): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
  const extras = Object.entries(extra)
    .map(([k, v]) => `  <${k}>${esc(v)}</${k}>\n`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n' +
    `  <Code>${esc(code)}</Code>\n  <Message>${esc(message)}</Message>\n  <RequestId>${esc(requestId)}</RequestId>\n` +
    `  <HostId>${esc(hostId)}</HostId>\n${extras}</Error>\n`
  );
}
