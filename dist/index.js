import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);
import {
  run
} from "./chunks/chunk-24BNPQDO.js";
import "./chunks/chunk-MDYHUNVL.js";

// src/index.ts
await run();
