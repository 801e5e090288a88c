#!/usr/bin/env node
// The `tandem` command. Tandem is TypeScript run directly (no build step): tsx compiles each
// module on load and caches the result.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
