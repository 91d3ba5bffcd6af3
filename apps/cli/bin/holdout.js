#!/usr/bin/env node
// Runs the TypeScript CLI directly (no build step), so `npx holdout` works right after `npm ci`.
import { register } from "tsx/esm/api";

register();
await import("../src/main.ts");
