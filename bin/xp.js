#!/usr/bin/env node
import { main } from '../dist/framework/cli/main.js';

await main(process.argv);
