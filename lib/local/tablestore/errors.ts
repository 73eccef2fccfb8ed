/**
 * Service errors with the HTTP status Tablestore answers for each code (Tablestore "Error codes"
 * reference; statuses also asserted by the official Java/Python SDK function tests).
 */
export const STATUS_BY_CODE: Record<string, number> = {
  OTSAuthFailed: 403,
  OTSNoPermissionAccess: 403,
  OTSConditionCheckFail: 403,
  OTSQuotaExhausted: 403,
  OTSParameterInvalid: 400,
  OTSInvalidPK: 400,
  OTSOutOfColumnCountLimit: 400,
  OTSOutOfRowSizeLimit: 400,
  OTSObjectNotExist: 404,
  OTSTableNotReady: 404,
  OTSMethodNotAllowed: 405,
  OTSRequestTimeout: 408,
  OTSObjectAlreadyExist: 409,
  OTSRowOperationConflict: 409,
  OTSRequestBodyTooLarge: 413,
  OTSInternalServerError: 500,
  OTSServerBusy: 503,
  OTSPartitionUnavailable: 503,
  OTSTimeout: 503,
  OTSServerUnavailable: 503,
};

export class OtsError extends Error {
  readonly status: number;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OtsError';
    this.status = STATUS_BY_CODE[code] ?? 500;
  }
}

export const paramInvalid = (message: string): OtsError => new OtsError('OTSParameterInvalid', message);
export const invalidPk = (message: string): OtsError => new OtsError('OTSInvalidPK', message);
export const authFailed = (message: string): OtsError => new OtsError('OTSAuthFailed', message);
export const conditionFailed = (): OtsError => new OtsError('OTSConditionCheckFail', 'Condition check failed.');
export const tableNotExist = (): OtsError => new OtsError('OTSObjectNotExist', 'Requested table does not exist.');
export const tableExists = (): OtsError => new OtsError('OTSObjectAlreadyExist', 'Requested table already exists.');

/** Anything that is not an OtsError is a bug in the emulator: answer 500 like the service would. */
export function asOtsError(err: unknown): OtsError {
  if (err instanceof OtsError) return err;
  return new OtsError('OTSInternalServerError', `Internal server error. (${err instanceof Error ? err.message : String(err)})`);
}
