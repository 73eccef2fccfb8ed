/**
 * OSS errors as the service reports them: an HTTP status, an error code and a message, plus the
 * extra elements OSS adds to some errors (<Key>, <BucketName>, <ServerTime>, …) and the <EC>
 * diagnostic code where the OSS docs name one (help.aliyun.com/…/oss/user-guide/<EC>). Messages are
 * OSS's wording only: what the emulator knows beyond that goes to its stderr or to `records`.
 * ali-oss turns the XML into err.code/err.status/err.ecCode.
 */
export class OssError extends Error {
  override readonly name = 'OssError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra child elements of <Error>, in order. */
    readonly extra: Record<string, string> = {},
    readonly ec?: string,
  ) {
    super(message);
  }
}

/** The catalogue of errors the emulator answers, with OSS's codes, statuses and wording. */
export const E = {
  noSuchKey: (key: string) => new OssError(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key }, '0026-00000001'),
  noSuchBucket: (bucket: string) =>
    new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket }, '0015-00000101'),
  accessDeniedAnonymous: () =>
    new OssError(403, 'AccessDenied', 'You have no right to access this object because of bucket acl.', {}, '0003-00000001'),
  invalidAccessKeyId: (id: string) =>
    new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id }, '0002-00000902'),
  invalidSecurityToken: () => new OssError(403, 'InvalidSecurityToken', 'The security token you provided is invalid.', {}, '0002-00000903'),
  securityTokenExpired: () => new OssError(403, 'SecurityTokenExpired', 'The security token you provided has expired.', {}, '0002-00000904'),
  signatureDoesNotMatch: (extra: Record<string, string>) =>
    new OssError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', extra, '0002-00000040'),
  requestExpired: (expiresIso: string, serverIso: string) =>
    new OssError(403, 'AccessDenied', 'Request has expired.', { Expires: expiresIso, ServerTime: serverIso }, '0002-00000069'),
  requestNotYetValid: (dateIso: string, serverIso: string) =>
    new OssError(403, 'AccessDenied', 'Request is not valid yet: x-oss-date is more than 15 minutes ahead of the server time.', { RequestTime: dateIso, ServerTime: serverIso }, '0002-00000235'),
  timeTooSkewed: (requestIso: string, serverIso: string) =>
    new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', { RequestTime: requestIso, ServerTime: serverIso, MaxAllowedSkewMilliseconds: '900000' }, '0002-00000504'),
  // Not a documented OSS answer: V1 is refused only because the emulator is started without allowV1.
  v1Refused: () => new OssError(403, 'AccessDenied', 'Signature version 1 is not accepted by this bucket.'),
  invalidArgument: (message: string, name?: string, value?: string, ec?: string) =>
    new OssError(400, 'InvalidArgument', message, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' }, ec),
  invalidDigest: () => new OssError(400, 'InvalidDigest', 'The Content-MD5 you specified is not valid.', {}, '0016-00000105'),
  contentSha256Mismatch: () => new OssError(400, 'InvalidArgument', 'x-oss-content-sha256 does not match the SHA-256 of the request body.'),
  invalidObjectName: (message: string) => new OssError(400, 'InvalidObjectName', message, {}, '0016-00000005'),
  entityTooLarge: () => new OssError(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size.'),
  malformedXml: () => new OssError(400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.'),
  metadataTooLarge: () => new OssError(400, 'InvalidArgument', 'Your metadata headers exceed the maximum allowed metadata size.', {}, '0011-00000002'),
  fileAlreadyExists: (ec: string) => new OssError(409, 'FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', {}, ec),
  noSuchUpload: (id: string) =>
    new OssError(404, 'NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', { UploadId: id }, '0017-00000244'),
  invalidPart: () =>
    new OssError(400, 'InvalidPart', "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."),
  invalidPartOrder: () =>
    new OssError(400, 'InvalidPartOrder', 'The list of parts was not in ascending order. Parts must be ordered by part number.', {}, '0042-00000209'),
  entityTooSmall: () => new OssError(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed size.', {}, '0042-00000213'),
  invalidPartNumber: (value: string) =>
    new OssError(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.', { ArgumentName: 'PartNumber', ArgumentValue: value }, '0017-00000220'),
  invalidRange: (size: number) => new OssError(416, 'InvalidRange', 'The requested range cannot be satisfied', { ActualObjectSize: String(size) }),
  preconditionFailed: (condition: string) =>
    new OssError(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold.', { Condition: condition }, '0017-00001001'),
  methodNotAllowed: () => new OssError(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.'),
  notImplemented: () => new OssError(501, 'NotImplemented', 'A header you provided implies functionality that is not implemented.'),
  serviceUnavailable: () => new OssError(503, 'ServiceUnavailable', 'Please reduce your request rate.'),
  /** The cause goes to the emulator's stderr, not into the answer. */
  internal: () => new OssError(500, 'InternalError', 'We encountered an internal error. Please try again.'),
};
