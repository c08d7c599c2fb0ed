import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  run
} from "./chunks/chunk-DI6HRHMF.js";
import "./chunks/chunk-MDYHUNVL.js";

// src/index.ts
await run();
