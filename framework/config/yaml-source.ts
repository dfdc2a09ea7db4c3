/**
 * Reads one YAML file into a plain value plus the source position of every dotted path,
 * so that any later error can point at file:line:column.
 */
import fs from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from 'yaml';
import { joinPath, type Issue, type Position } from './issues.js';

export type Sources = Map<string, Position>;

export interface ParsedFile {
  value: Record<string, unknown>;
  sources: Sources;
  issues: Issue[];
}

export function parseYamlFile(file: string): ParsedFile {
  const text = fs.readFileSync(file, 'utf8');
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, keepSourceTokens: false });
  const at = (offset: number): Position => ({ file, ...lineCounter.linePos(offset) });
  const issues: Issue[] = doc.errors.map((err) => ({
    pos: at(err.pos[0]),
    path: '',
    message: `malformed YAML: ${err.message.split('\n')[0]}`,
  }));
  const sources: Sources = new Map([['', at(0)]]);
  if (issues.length) return { value: {}, sources, issues };
  collectSources(doc.contents, '', sources, at);
  const value = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { value: {}, sources, issues: [{ pos: at(0), path: '', message: 'an experiment file must be a YAML map' }] };
  }
  return { value, sources, issues };
}

function collectSources(node: Node | null, path: string, sources: Sources, at: (offset: number) => Position): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const childPath = joinPath(path, key);
      const keyNode = pair.key as Node | null;
      if (keyNode?.range) sources.set(childPath, at(keyNode.range[0]));
      collectSources(pair.value as Node | null, childPath, sources, at);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const childPath = joinPath(path, index);
      const itemNode = item as Node | null;
      if (itemNode?.range) sources.set(childPath, at(itemNode.range[0]));
      collectSources(itemNode, childPath, sources, at);
    });
  }
}
