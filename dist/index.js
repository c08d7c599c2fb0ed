import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  run
} from "./chunks/chunk-PDK6UB3X.js";
import "./chunks/chunk-MDYHUNVL.js";

// src/index.ts
await run();
