/**
 * The environment in which Dawn finds Mesa's software Vulkan driver, lavapipe, as
 * scripts/software-vulkan.sh installs it (CI runs it; so can anyone, no root needed).
 */
import fs from 'node:fs';
import path from 'node:path';
import { cacheRoot } from '../../framework/paths.js';

export function softwareVulkanEnv(): Record<string, string> {
  const dir = path.join(cacheRoot(), 'lavapipe');
  const icd = path.join(dir, 'lvp_icd.json');
  if (!fs.existsSync(icd)) {
    throw new Error(`no software Vulkan driver in ${dir}: run scripts/software-vulkan.sh (CI's .ci/run does)`);
  }
  const lib = path.join(dir, 'lib');
  return { LD_LIBRARY_PATH: [lib, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'), VK_DRIVER_FILES: icd };
}
