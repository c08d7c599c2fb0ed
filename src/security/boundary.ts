// The scrub at the boundary: every string of a RunResult and every text file of the artifact, just before they
// leave the job. Whatever path a secret took into them (a test id, a message, a note, a raw log), it stops here.
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stripInvisible } from './text.js';

/** XML's numeric references to characters that are stripped (`&#13;`): they split a token in junit.xml just the same. */
function dropInvisibleReferences(text: string): string {
  return text.replace(/&#(x[0-9a-f]+|[0-9]+);/gi, (ref, code: string) => {
    const point = code[0].toLowerCase() === 'x' ? Number.parseInt(code.slice(1), 16) : Number(code);
    if (!Number.isInteger(point) || point > 0x10ffff) return ref;
    return stripInvisible(String.fromCodePoint(point)) === '' ? '' : ref;
  });
}

/** A copy of `value` with every string, record keys included, passed through `scrub`. */
export function scrubStrings<T>(value: T, scrub: (text: string) => string): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return scrub(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, inner] of Object.entries(v)) out[scrub(k)] = walk(inner);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

/**
 * Rewrites every UTF-8 text file under `dir` (logs, junit.xml, JSON) through `scrub`; binary files and links
 * are left alone (links are never uploaded). Returns the files that changed.
 */
export async function scrubFilesUnder(dir: string, scrub: (text: string) => string): Promise<string[]> {
  const changed: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  for (const entry of entries) {
    const path = join(entry.parentPath, entry.name);
    if (!(await lstat(path)).isFile()) continue;
    const bytes = await readFile(path);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      continue;
    }
    const clean = scrub(dropInvisibleReferences(text));
    if (clean !== text) {
      await writeFile(path, clean);
      changed.push(path);
    }
  }
  return changed;
}
