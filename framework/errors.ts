/** Errors a user can act on: printed as their message alone, no stack trace. */
export class XpError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
