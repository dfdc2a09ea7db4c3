/**
 * Reads one YAML file into a plain value plus the source position of every dotted path,
 * so that any later error can point at file:line:column.
 *
 * js-yaml's event stream (every node with its source offsets, no syntax tree) is read twice:
 * once here to record positions and refuse what a config may not hold (duplicate or forbidden
 * keys, complex keys, aliases that expand beyond reason), once by js-yaml to build the value.
 * Both passes are linear; a 2 MB file takes well under a second (the `yaml` library's document
 * model took 2-5 s), which keeps validation cheap for generated sweeps and hostile input alike.
 */
import fs from 'node:fs';
import { constructFromEvents, EVENT_ID, getScalarValue, load, parseEvents, type Event } from 'js-yaml';
import { joinPath, type Issue, type Position } from './issues.js';
import { forbiddenKeyMessage, isForbiddenKey } from './plain-keys.js';

export type Sources = Map<string, Position>;

export interface ParsedFile {
  value: Record<string, unknown>;
  sources: Sources;
  issues: Issue[];
}

type At = (offset: number) => Position;

/** Collections nest at most this deep (js-yaml's own guard against stack exhaustion). */
const MAX_DEPTH = 100;

/**
 * Aliases may repeat a value, not multiply the document: the values they stand for, counted as
 * if written out, may not exceed this many beyond the values actually written.
 */
const MAX_ALIAS_EXPANSION = 100_000;

export function parseYamlFile(file: string): ParsedFile {
  const sources: Sources = new Map([['', { file }]]);
  const text = readText(file);
  if (typeof text !== 'string') return { value: {}, sources, issues: [{ pos: { file }, path: '', message: text.problem }] };
  const at = positionsIn(file, text);
  sources.set('', at(0));
  const fail = (offset: number, message: string): ParsedFile => ({ value: {}, sources, issues: [{ pos: at(offset), path: '', message }] });

  let events: Event[];
  try {
    events = parseEvents(text, { filename: file, maxDepth: MAX_DEPTH });
  } catch (err) {
    return fail(errorOffset(err), `malformed YAML: ${yamlReason(err)}`);
  }
  const issues = walkEvents(text, events, at, sources);
  if (issues.length) return { value: {}, sources, issues };

  let value: unknown;
  try {
    value = constructFromEvents(events, { source: text, filename: file })[0] ?? {};
  } catch (err) {
    return fail(errorOffset(err), `malformed YAML: ${yamlReason(err)}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(0, 'an experiment file must be a YAML map');
  }
  return { value: value as Record<string, unknown>, sources, issues: [] };
}

/** One YAML value typed on a command line (`--set path=value`, `--grid path=a,b`): the same reader as files. */
export function parseYamlValue(text: string): unknown {
  try {
    return load(text, { maxDepth: MAX_DEPTH, maxAliases: 0 });
  } catch (err) {
    // An empty value (`--set a=`) is null, as in a file.
    if (text.trim() === '') return null;
    throw new Error(yamlReason(err));
  }
}

/** The file's text, or why it cannot be read (a folder, a missing file, no permission). */
function readText(file: string): string | { problem: string } {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return { problem: 'is a folder, not an experiment file' };
    if (code === 'ENOENT') return { problem: 'no such file' };
    return { problem: `cannot be read (${(err as Error).message})` };
  }
}

/**
 * Offset -> 1-based line and column. The walk asks in increasing order, so a cursor moves
 * forward over the line starts; an earlier offset (an error's) starts it over.
 */
function positionsIn(file: string, text: string): At {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  let line = 0;
  return (offset) => {
    if (offset < lineStarts[line]) line = 0;
    while (line + 1 < lineStarts.length && lineStarts[line + 1] <= offset) line++;
    return { file, line: line + 1, col: offset - lineStarts[line] + 1 };
  };
}

/** js-yaml's reason without its source excerpt; the position is reported separately. */
function yamlReason(err: unknown): string {
  const { reason, message } = err as { reason?: string; message?: string };
  return reason ?? String(message ?? err).split('\n')[0];
}

function errorOffset(err: unknown): number {
  return (err as { mark?: { position?: number } }).mark?.position ?? 0;
}

/** An open mapping, sequence or document while walking the events. */
interface Frame {
  kind: 'map' | 'seq' | 'doc';
  path: string;
  /** map: the key whose value comes next, or undefined where a key comes next. */
  key?: string;
  index: number;
  /** The values under this node, aliases counted as written out. */
  size: number;
  anchor?: string;
}

/** Records every path's position and finds what a config may not hold, in one pass over the events. */
function walkEvents(text: string, events: Event[], at: At, sources: Sources): Issue[] {
  const issues: Issue[] = [];
  const anchorSizes = new Map<string, number>();
  const stack: Frame[] = [];
  let documents = 0;
  let written = 0;
  let expanded = 0;

  const anchorOf = (e: { anchorStart: number; anchorEnd: number }) => (e.anchorStart >= 0 ? text.slice(e.anchorStart, e.anchorEnd) : undefined);
  const startOf = (e: Event): number => {
    if (e.type === EVENT_ID.SCALAR) return e.tagStart >= 0 ? Math.min(e.tagStart, e.valueStart) : e.valueStart;
    if (e.type === EVENT_ID.ALIAS) return e.anchorStart - 1;
    return 'start' in e ? e.start : 0;
  };
  /** Where the node that starts with `e` goes: its path, or undefined where it is a map's key. */
  const placeNode = (e: Event): string | undefined => {
    const parent = stack[stack.length - 1];
    if (parent.kind === 'doc') return parent.path;
    if (parent.kind === 'seq') {
      const path = joinPath(parent.path, parent.index++);
      sources.set(path, at(startOf(e)));
      return path;
    }
    if (parent.key !== undefined) {
      const path = joinPath(parent.path, parent.key);
      parent.key = undefined;
      return path;
    }
    takeKey(parent, e);
    return undefined;
  };
  const takeKey = (map: Frame, e: Event): void => {
    const pos = at(startOf(e));
    if (e.type !== EVENT_ID.SCALAR) {
      issues.push({ pos, path: map.path, message: 'malformed YAML: a key must be a plain value, not a list, map or alias' });
      map.key = '?';
      return;
    }
    const key = getScalarValue(text, e);
    const path = joinPath(map.path, key);
    if (isForbiddenKey(key)) issues.push({ pos, path, message: forbiddenKeyMessage(key) });
    // A path is reached once per file unless its key repeats in one map.
    else if (sources.has(path)) issues.push({ pos, path, message: `malformed YAML: the key '${key}' appears twice in one map` });
    sources.set(path, pos);
    map.key = key;
  };
  const addSize = (size: number): void => {
    const parent = stack[stack.length - 1];
    if (parent) parent.size += size;
  };

  for (const [index, e] of events.entries()) {
    switch (e.type) {
      case EVENT_ID.DOCUMENT:
        if (++documents === 2) {
          // At the second document's first node, or at the end of the file where it is empty.
          const next = events[index + 1];
          const offset = next && next.type !== EVENT_ID.POP ? startOf(next) : text.length;
          return [{ pos: at(offset), path: '', message: 'malformed YAML: an experiment file holds one document (found a second `---`)' }];
        }
        stack.push({ kind: 'doc', path: '', index: 0, size: 0 });
        break;
      case EVENT_ID.MAPPING:
      case EVENT_ID.SEQUENCE: {
        const path = placeNode(e);
        // A collection used as a key was reported; its contents are walked under the map's path.
        stack.push({ kind: e.type === EVENT_ID.MAPPING ? 'map' : 'seq', path: path ?? stack[stack.length - 1].path, index: 0, size: 1, anchor: anchorOf(e) });
        written++;
        break;
      }
      case EVENT_ID.SCALAR: {
        placeNode(e);
        const anchor = anchorOf(e);
        if (anchor) anchorSizes.set(anchor, 1);
        addSize(1);
        written++;
        break;
      }
      case EVENT_ID.ALIAS: {
        placeNode(e);
        const size = anchorSizes.get(text.slice(e.anchorStart, e.anchorEnd)) ?? 1;
        expanded += size;
        addSize(size);
        if (expanded > written + MAX_ALIAS_EXPANSION) {
          issues.push({ pos: at(startOf(e)), path: '', message: `malformed YAML: aliases expand to more than ${MAX_ALIAS_EXPANSION} values (an alias bomb?)` });
          return issues;
        }
        break;
      }
      case EVENT_ID.POP: {
        const frame = stack.pop()!;
        if (frame.anchor) anchorSizes.set(frame.anchor, frame.size);
        if (frame.kind !== 'doc') addSize(frame.size);
        break;
      }
    }
  }
  return issues;
}
