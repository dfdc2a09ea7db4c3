/**
 * `@block('DoubleConv', {...})` and friends: declare a class as a component of a kind, with an
 * explicit name (never `constructor.name`, which minifiers rename) and its parameter schema,
 * and make it injectable. Declaring registers nothing: a registry registers the declared
 * classes a module exports (Registry.addModule), so no import has a side effect.
 */
import { injectable } from 'inversify';
import type { TObject } from '@sinclair/typebox';
import { fileURLToPath } from 'node:url';
import { declare, type ComponentClass, type ComponentSpec, type Kind } from './registry.js';

export function component<P extends TObject>(kind: Kind, name: string, spec: ComponentSpec<P>) {
  const file = callerFile();
  return <C extends ComponentClass>(target: C): void => {
    injectable()(target);
    declare(target, { kind, name, file, description: spec.description, params: spec.params, needs: spec.needs });
  };
}

const named =
  (kind: Kind) =>
  <P extends TObject>(name: string, spec: ComponentSpec<P>) =>
    component(kind, name, spec);

export const block = named('block');
export const model = named('model');
export const schedule = named('schedule');
export const sampler = named('sampler');
export const callback = named('callback');
export const dataset = named('dataset');
export const optimizer = named('optimizer');
export const objective = named('objective');
export const lrSchedule = named('lr_schedule');

/** The module that applied the decorator: the first stack frame outside the registry. */
function callerFile(): string {
  const frames = (new Error().stack ?? '').split('\n').slice(1);
  for (const frame of frames) {
    const location = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):\d+:\d+\)?$/.exec(frame.trim())?.[1];
    if (!location || location.includes('/framework/registry/') || location.includes('/node_modules/')) continue;
    return location.startsWith('file://') ? fileURLToPath(location) : location;
  }
  return '<unknown file>';
}
