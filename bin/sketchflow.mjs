#!/usr/bin/env node
// The `sketchflow` command. The CLI is TypeScript run through tsx, so it never needs a build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lib/cli/index.ts');
process.exitCode = await main(process.argv.slice(2));
