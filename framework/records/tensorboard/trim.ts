/**
 * Cuts a run's event files back to a checkpoint. A run killed after its last checkpoint may have
 * flushed records of the steps that followed; the resumed run records those steps again, so they
 * are dropped first and every step's curve point appears exactly once, for any reader (the
 * Python loader's restart purge, rustboard, xp plot).
 */
import fs from 'node:fs';
import { writeFileAtomic } from '../../fsutil.js';
import { eventFiles, fileEvents } from './reader.js';

/**
 * Rewrites each event file in `dir` that holds records past `step` without them (atomically:
 * a crash leaves the old file or the trimmed one); a partial record a killed writer left at the
 * end goes too; a file left with no record (a step below 0 drops all) is removed. Returns how
 * many records were dropped.
 */
export function trimEventsAfter(dir: string, step: number): number {
  let dropped = 0;
  for (const file of eventFiles(dir)) {
    const kept: Uint8Array[] = [];
    let keptBytes = 0;
    let all = 0;
    for (const { framed, event } of fileEvents(file)) {
      all++;
      if (event.step <= step) {
        kept.push(framed);
        keptBytes += framed.length;
      }
    }
    if (kept.length === all && keptBytes === fs.statSync(file).size) continue;
    dropped += all - kept.length;
    if (kept.length) writeFileAtomic(file, Buffer.concat(kept));
    else fs.rmSync(file);
  }
  return dropped;
}
