// pytest's JUnit XML → TestCase[]. Pure. dtype, K and N come from recorded properties, else from the test id.
import type { TestCase } from '../run-result.js';

export class JunitParseError extends Error {}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);/g, (_, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(Number.parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(Number.parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? _;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g))
    out[m[1]] = decode(m[3] ?? m[4] ?? '');
  return out;
}

const DTYPES: Record<string, string> = {
  bfloat16: 'bfloat16',
  bf16: 'bfloat16',
  float16: 'float16',
  fp16: 'float16',
  half: 'float16',
  float32: 'float32',
  fp32: 'float32',
  float: 'float32',
};

function normaliseDtype(value: string): string | undefined {
  return DTYPES[value.replace(/^torch\./, '').toLowerCase()];
}

const K_NAMES = /^(k|hidden|hidden_size|hidden_dim)$/i;
const N_NAMES = /^(n|m|num_tokens|tokens|rows|batch)$/i;

/** dtype, K, N of one case: from its properties when recorded, else from labelled parts of the id. */
export function caseShape(
  id: string,
  properties: Record<string, string> = {},
): Pick<TestCase, 'dtype' | 'k' | 'n'> {
  const shape: Pick<TestCase, 'dtype' | 'k' | 'n'> = {};
  for (const [name, value] of Object.entries(properties)) {
    if (/dtype/i.test(name)) shape.dtype = normaliseDtype(value) ?? value;
    else if (K_NAMES.test(name) && /^\d+$/.test(value)) shape.k = Number(value);
    else if (N_NAMES.test(name) && /^\d+$/.test(value)) shape.n = Number(value);
  }
  const params = /\[(.*)\]$/.exec(id)?.[1];
  if (params) {
    for (const part of params.split('-')) {
      const dtype = normaliseDtype(part);
      if (dtype && shape.dtype === undefined) shape.dtype = dtype;
      const k = /^(?:k|K|hidden)[=_]?(\d+)$/.exec(part);
      if (k && shape.k === undefined) shape.k = Number(k[1]);
      const n = /^(?:n|N|m|M|tokens|num_tokens)[=_]?(\d+)$/.exec(part);
      if (n && shape.n === undefined) shape.n = Number(n[1]);
    }
  }
  return shape;
}

/** The test's file and 1-based line: pytest's xunit1 `file` and 0-based `line` attributes. */
function where(attrs: Record<string, string>, file: string | undefined): Pick<TestCase, 'file' | 'line'> {
  const line = Number(attrs.line);
  const path = attrs.file ?? file;
  return {
    ...(path ? { file: path } : {}),
    ...(attrs.line !== undefined && Number.isInteger(line) && line >= 0 ? { line: line + 1 } : {}),
  };
}

/** What a case passes the op, from the `call_form.<param>` properties its call_form marker records. */
function callForm(properties: Record<string, string>): Pick<TestCase, 'callForm'> {
  const form: Record<string, string> = {};
  for (const [name, value] of Object.entries(properties)) {
    const param = /^call_form\.(\w+)$/.exec(name)?.[1];
    if (param) form[param] = value;
  }
  return Object.keys(form).length > 0 ? { callForm: form } : {};
}

/** Parses pytest's JUnit XML (xunit1 or xunit2). Throws JunitParseError on text that is not a JUnit report. */
export function parseJunit(xml: string): TestCase[] {
  if (!/<testsuites?[\s>]/.test(xml)) throw new JunitParseError('not a JUnit report: no <testsuite> element');
  if (!/<\/testsuites?>\s*$/.test(xml.trim()) && !/<testsuites?[^>]*\/>\s*$/.test(xml.trim())) {
    throw new JunitParseError('JUnit report is truncated: no closing </testsuite>');
  }
  const cases: TestCase[] = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const attrs = attributes(m[1]);
    const body = m[3] ?? '';
    const file = attrs.classname ? `${attrs.classname.replace(/\./g, '/')}.py` : attrs.file;
    const id = file ? `${file}::${attrs.name ?? ''}` : (attrs.name ?? '');
    const properties: Record<string, string> = {};
    for (const p of body.matchAll(/<property\b([^>]*?)\/?>/g)) {
      const a = attributes(p[1]);
      if (a.name !== undefined) properties[a.name] = a.value ?? '';
    }
    const outcome = /<(failure|error|skipped)\b([^>]*?)(\/>|>([\s\S]*?)<\/\1>)/.exec(body);
    const status: TestCase['status'] =
      outcome?.[1] === 'failure'
        ? 'failed'
        : outcome?.[1] === 'error'
          ? 'error'
          : outcome
            ? 'skipped'
            : 'passed';
    const message = outcome ? attributes(outcome[2]).message || decode(outcome[4] ?? '').trim() : undefined;
    const seconds = Number(attrs.time ?? 0);
    cases.push({
      id,
      status,
      seconds: Number.isFinite(seconds) && seconds >= 0 ? seconds : 0,
      ...(message ? { message: message.slice(0, 2_000) } : {}),
      ...caseShape(attrs.name ?? '', properties),
      ...callForm(properties),
      ...where(attrs, file),
    });
  }
  return cases;
}
