// Errors of the file readers and writers.

/** Stable codes of file-format errors. */
export const IoErrorCodes = {
  /** A file is corrupt, truncated or not in the format it claims (message names the file and the problem). */
  FORMAT: 'ERR_ORTHO_FORMAT',
  /** A file is valid but holds something the command line does not handle (message says what). */
  UNSUPPORTED: 'ERR_ORTHO_UNSUPPORTED',
} as const;

export type IoErrorCode = (typeof IoErrorCodes)[keyof typeof IoErrorCodes];

/** A problem with a file's contents; the message starts with the file's path. */
export class FileFormatError extends Error {
  readonly code: IoErrorCode;
  /** The file concerned. */
  readonly file: string;

  constructor(file: string, problem: string, code: IoErrorCode = IoErrorCodes.FORMAT) {
    super(`${file}: ${problem}`);
    this.name = 'FileFormatError';
    this.code = code;
    this.file = file;
  }
}
