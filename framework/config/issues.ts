/** Config problems, each pinned to where the user wrote the value: file:line:column and dotted path. */
import { XpError } from '../errors.js';

export interface Position {
  /** A file path, or a description of a command-line argument. */
  file: string;
  line?: number;
  col?: number;
}

export interface Issue {
  pos?: Position;
  /** Dotted path of the value, e.g. `callbacks.ema.beta`; empty for the whole file. */
  path: string;
  message: string;
}

export function formatPosition(pos: Position): string {
  return pos.line === undefined ? pos.file : `${pos.file}:${pos.line}:${pos.col}`;
}

export function formatIssue(issue: Issue): string {
  const where = issue.pos ? `${formatPosition(issue.pos)}: ` : '';
  const path = issue.path ? `${issue.path}: ` : '';
  return `${where}${path}${issue.message}`;
}

/** All the problems of one config at once; the CLI exits with 2. */
export class ConfigError extends XpError {
  constructor(readonly issues: Issue[]) {
    super(
      issues.length === 1
        ? formatIssue(issues[0])
        : `${issues.length} problems:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`,
      2,
    );
  }
}

export function joinPath(parent: string, key: string | number): string {
  return parent ? `${parent}.${key}` : String(key);
}
