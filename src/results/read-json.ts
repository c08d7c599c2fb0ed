// One reader for JSON that a zod schema checks: each failure names what was read and says what is wrong, and where.
import type { z } from 'zod';

/** A result file (microbench, e2e, bench JSON) that cannot be read as what it claims to be. */
export class ResultFileError extends Error {}

/** The first schema violations, each with where it is: `cells.0.k: expected number`. */
export function describeIssues(error: z.ZodError, max = 5): string {
  return error.issues
    .slice(0, max)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** JSON text → data; empty or broken text is a ResultFileError naming `what`. */
export function parseJson(text: string, what: string): unknown {
  if (text.trim() === '') throw new ResultFileError(`${what} is empty`);
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new ResultFileError(`${what} is not valid JSON (truncated or corrupt): ${detail}`);
  }
}

export interface ShapeCheck {
  /** what was read: a file name or a description */
  what: string;
  /** how a mismatch reads after `what`, e.g. "does not match the microbench shape" */
  mismatch: string;
  /** the error class the caller's callers catch */
  error?: new (
    message: string,
  ) => Error;
  maxIssues?: number;
}

/** `data` as the schema's type, or an error `<what> <mismatch>: <the first issues, with where>`. */
export function checkShape<S extends z.ZodType>(schema: S, data: unknown, check: ShapeCheck): z.output<S> {
  const parsed = schema.safeParse(data);
  if (parsed.success) return parsed.data;
  const ErrorClass = check.error ?? Error;
  throw new ErrorClass(`${check.what} ${check.mismatch}: ${describeIssues(parsed.error, check.maxIssues)}`);
}
