/** Headless Chromium (Debian's chromium package) driven by playwright-core, for tests and benchmarks of the board. */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = process.env.XP_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: install Debian's chromium (apt-get install chromium; .ci/run does), or set XP_CHROMIUM`);
  }
  return chromium.launch({ executablePath: chromiumPath });
}
