/**
 * Reads one YAML file into a plain value plus the source position of every dotted path,
 * so that any later error can point at file:line:column.
 */
import fs from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import { joinPath, type Issue, type Position } from './issues.js';
import { forbiddenKeyMessage, isForbiddenKey } from './plain-keys.js';

export type Sources = Map<string, Position>;

export interface ParsedFile {
  value: Record<string, unknown>;
  sources: Sources;
  issues: Issue[];
}

type At = (offset: number) => Position;

export function parseYamlFile(file: string): ParsedFile {
  const sources: Sources = new Map([['', { file }]]);
  const text = readText(file);
  if (typeof text !== 'string') return { value: {}, sources, issues: [{ pos: { file }, path: '', message: text.problem }] };
  const lineCounter = new LineCounter();
  // uniqueKeys: false because the library's check compares every key with every earlier one
  // (quadratic in a map's size); collectSources finds duplicates with a Set instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, keepSourceTokens: false, uniqueKeys: false });
  const at: At = (offset) => ({ file, ...lineCounter.linePos(offset) });
  sources.set('', at(0));
  const issues: Issue[] = doc.errors.map((err) => ({
    pos: at(err.pos[0]),
    path: '',
    message: `malformed YAML: ${err.message.split('\n')[0]}`,
  }));
  if (issues.length) return { value: {}, sources, issues };
  collectSources(doc.contents, '', sources, at, issues);
  if (issues.length) return { value: {}, sources, issues };
  const value = toPlainValue(doc);
  if (typeof value === 'string') return { value: {}, sources, issues: [{ pos: at(0), path: '', message: `malformed YAML: ${value}` }] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { value: {}, sources, issues: [{ pos: at(0), path: '', message: 'an experiment file must be a YAML map' }] };
  }
  return { value: value as Record<string, unknown>, sources, issues };
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

/** The document as plain data; the library's own limits (an alias bomb, say) become a message. */
function toPlainValue(doc: Document): unknown {
  try {
    return doc.toJS() ?? {};
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

function collectSources(node: Node | null, path: string, sources: Sources, at: At, issues: Issue[]): void {
  if (isMap(node)) {
    const seen = new Set<string>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const childPath = joinPath(path, key);
      const keyNode = pair.key as Node | null;
      const pos = keyNode?.range ? at(keyNode.range[0]) : sources.get(path);
      if (isForbiddenKey(key)) issues.push({ pos, path: childPath, message: forbiddenKeyMessage(key) });
      else if (seen.has(key)) issues.push({ pos, path: childPath, message: `malformed YAML: the key '${key}' appears twice in one map` });
      seen.add(key);
      if (keyNode?.range) sources.set(childPath, pos!);
      collectSources(pair.value as Node | null, childPath, sources, at, issues);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const childPath = joinPath(path, index);
      const itemNode = item as Node | null;
      if (itemNode?.range) sources.set(childPath, at(itemNode.range[0]));
      collectSources(itemNode, childPath, sources, at, issues);
    });
  }
}
