/** `xp schema --write | --check`: schema.json is generated from the registry and must not go stale. */
import fs from 'node:fs';
import { writeFileAtomic } from '../../../framework/fsutil.js';
import { XpError } from '../../../framework/errors.js';
import { schemaPath } from '../../../framework/paths.js';
import { schemaText } from '../../../framework/config/schema.js';
import { registerBuiltins } from '../../../components/index.js';

export async function schema(opts: { write?: boolean; check?: boolean }): Promise<void> {
  const text = schemaText(registerBuiltins());
  if (opts.write) {
    writeFileAtomic(schemaPath, text);
    console.log(`wrote ${schemaPath}`);
  } else if (opts.check) {
    const current = fs.existsSync(schemaPath) ? fs.readFileSync(schemaPath, 'utf8') : '';
    if (current !== text) throw new XpError(`${schemaPath} is stale: run 'xp schema --write' and commit it`);
    console.log(`${schemaPath} is up to date`);
  } else {
    process.stdout.write(text);
  }
}
