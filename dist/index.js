import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  run
} from "./chunks/chunk-4TA6JENS.js";
import "./chunks/chunk-IVK7DNWI.js";

// src/index.ts
await run();
