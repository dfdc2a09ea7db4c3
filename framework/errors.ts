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

/**
 * A component could not be built from its configuration: `path` is the dotted path of the
 * value at fault (`sampler.steps`, `model.stages`), so the error can be shown at its YAML
 * position. Components throw it for a parameter that is wrong only in combination with
 * others (the build finds it; the schema cannot).
 */
export class BuildError extends XpError {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`, 2);
  }
}

/** A compute backend that cannot be had here (with how to get it). */
export class BackendError extends XpError {}
