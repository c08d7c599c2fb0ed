// GitHub's published REST description (api.github.com, from @octokit/openapi): route matching and request/response validation.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';

type Json = Record<string, unknown>;

interface Spec {
  paths: Record<string, Record<string, Json>>;
  components: Record<string, Record<string, Json>>;
}

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: Json;
}

export interface Operation {
  operationId: string;
  method: string;
  /** the path template, e.g. /repos/{owner}/{repo}/issues/{issue_number}/comments */
  template: string;
  parameters: Parameter[];
  bodyRequired: boolean;
  bodySchema?: Json;
  responses: Record<string, Json>;
}

export interface Match {
  operation: Operation;
  pathParams: Record<string, string>;
}

export interface Problem {
  /** 400 for what GitHub cannot parse, 422 for what does not match the description */
  status: 400 | 404 | 422;
  message: string;
}

const require = createRequire(import.meta.url);
const SPEC_FILE = require.resolve('@octokit/openapi/generated/api.github.com.json');
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'head'];

interface Route {
  operation: Operation;
  regex: RegExp;
  names: string[];
  literals: number;
}

/** The description is 13 MB: parse it and index its routes once per process. */
export class GitHubDescription {
  readonly spec: Spec;
  private readonly routes: Route[] = [];
  private readonly byId = new Map<string, Operation>();
  private readonly compiled = new Map<string, ValidateFunction>();
  // parameters arrive as strings; bodies and responses must already have their JSON types
  private readonly paramAjv = makeAjv(true);
  private readonly bodyAjv = makeAjv(false);

  private static cached: GitHubDescription | undefined;
  static load(): GitHubDescription {
    GitHubDescription.cached ??= new GitHubDescription(JSON.parse(readFileSync(SPEC_FILE, 'utf8')) as Spec);
    return GitHubDescription.cached;
  }

  private constructor(spec: Spec) {
    this.spec = spec;
    for (const [template, item] of Object.entries(spec.paths)) {
      const shared = ((item.parameters as unknown as Json[] | undefined) ?? []).map((p) => this.deref(p));
      for (const method of METHODS) {
        const op = item[method] as Json | undefined;
        if (!op) continue;
        const own = ((op.parameters as Json[] | undefined) ?? []).map((p) => this.deref(p));
        const parameters = [...shared, ...own] as unknown as Parameter[];
        const body = op.requestBody ? this.deref(op.requestBody as Json) : undefined;
        const content = body?.content as Record<string, Json> | undefined;
        const operation: Operation = {
          operationId: op.operationId as string,
          method: method.toUpperCase(),
          template,
          parameters,
          bodyRequired: body?.required === true,
          bodySchema: content?.['application/json']?.schema as Json | undefined,
          responses: op.responses as Record<string, Json>,
        };
        const names: string[] = [];
        const segments = template.split('/').map((s) => {
          const m = /^\{(.+)\}$/.exec(s);
          if (!m) return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(m[1]);
          return '([^/]+)';
        });
        this.routes.push({
          operation,
          regex: new RegExp(`^${segments.join('/')}$`),
          names,
          literals: segments.length - names.length,
        });
        this.byId.set(operation.operationId, operation);
      }
    }
    // a literal segment beats a parameter: /issues/comments is not issue number "comments"
    this.routes.sort((a, b) => b.literals - a.literals);
  }

  operation(operationId: string): Operation {
    const op = this.byId.get(operationId);
    if (!op) throw new Error(`GitHub's description has no operation '${operationId}'.`);
    return op;
  }

  /** Finds the operation for a request; undefined when GitHub has no such route (a 404 there). */
  match(method: string, pathname: string): Match | undefined {
    for (const route of this.routes) {
      if (route.operation.method !== method) continue;
      const m = route.regex.exec(pathname);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      route.names.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(m[i + 1]);
      });
      return { operation: route.operation, pathParams };
    }
    // parameters such as a file path or a git ref may hold slashes
    for (const route of this.routes) {
      if (route.operation.method !== method || route.names.length === 0) continue;
      const last = route.regex.source.lastIndexOf('([^/]+)');
      const greedy = new RegExp(
        `${route.regex.source.slice(0, last)}(.+)${route.regex.source.slice(last + 7)}`,
      );
      const m = greedy.exec(pathname);
      if (!m) continue;
      const pathParams: Record<string, string> = {};
      route.names.forEach((name, i) => {
        pathParams[name] = decodeURIComponent(m[i + 1]);
      });
      return { operation: route.operation, pathParams };
    }
    return undefined;
  }

  /** Checks path and query parameters (coerced to their declared types) and the JSON body; returns what is wrong. */
  validateRequest(
    match: Match,
    query: URLSearchParams,
    rawBody: string,
  ): { problem?: Problem; params: Record<string, unknown>; body: unknown } {
    const { operation } = match;
    const params: Record<string, unknown> = { ...match.pathParams };
    for (const [name, value] of query) {
      if (!operation.parameters.some((p) => p.in === 'query' && p.name === name)) {
        // GitHub ignores unknown query parameters; a misspelt one is a bug in the caller, so this double refuses it
        return {
          problem: {
            status: 422,
            message: `Query parameter '${name}' is not accepted by ${operation.operationId}.`,
          },
          params,
          body: undefined,
        };
      }
      params[name] = value;
    }
    const paramErrors = this.validator(
      `params:${operation.operationId}`,
      () => paramsSchema(operation),
      true,
    )(params);
    if (!paramErrors.ok) {
      return {
        problem: {
          status: 422,
          message: `Invalid parameters for ${operation.operationId}: ${paramErrors.text}`,
        },
        params,
        body: undefined,
      };
    }
    let body: unknown;
    if (rawBody.trim() !== '') {
      try {
        body = JSON.parse(rawBody);
      } catch {
        return { problem: { status: 400, message: 'Problems parsing JSON' }, params, body };
      }
    }
    if (operation.bodySchema) {
      if (body === undefined) {
        if (operation.bodyRequired) {
          return {
            problem: { status: 400, message: 'Problems parsing JSON: a request body is required' },
            params,
            body,
          };
        }
      } else {
        const unknown = unknownKeys(this.deref(operation.bodySchema), body);
        if (unknown) {
          return {
            problem: { status: 422, message: `Invalid request.\n\n"${unknown}" is not a permitted key.` },
            params,
            body,
          };
        }
        const result = this.validator(
          `body:${operation.operationId}`,
          () => operation.bodySchema as Json,
          false,
        )(body);
        if (!result.ok)
          return { problem: { status: 422, message: `Invalid request.\n\n${result.text}` }, params, body };
      }
    } else if (body !== undefined && operation.method !== 'GET' && operation.method !== 'DELETE') {
      return {
        problem: { status: 422, message: `${operation.operationId} takes no request body.` },
        params,
        body,
      };
    }
    return { params, body };
  }

  /** Checks that a response of this double has the shape GitHub documents for that status. */
  validateResponse(operation: Operation, status: number, body: unknown): string | undefined {
    const declared = operation.responses[String(status)] as Json | undefined;
    if (!declared) return `${operation.operationId} does not document status ${status}`;
    const content = (this.deref(declared).content as Record<string, Json> | undefined)?.['application/json'];
    if (!content?.schema)
      return body === undefined ? undefined : `${operation.operationId} ${status} has no body`;
    const check = this.validator(
      `response:${operation.operationId}:${status}`,
      () => content.schema as Json,
      false,
    );
    const result = check(body);
    return result.ok ? undefined : result.text;
  }

  /** The schema or component a `#/...` reference names. */
  resolve(ref: string): Json {
    return this.pointer(ref);
  }

  private deref(node: Json): Json {
    let current = node;
    for (let i = 0; i < 10 && typeof current.$ref === 'string'; i++) current = this.pointer(current.$ref);
    return current;
  }

  private pointer(ref: string): Json {
    const parts = ref.replace(/^#\//, '').split('/');
    let at: unknown = this.spec;
    for (const p of parts) at = (at as Json)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (!at) throw new Error(`Unresolved reference ${ref} in GitHub's description.`);
    return at as Json;
  }

  /** A schema document holding only the components reachable from root, so ajv compiles little. */
  private document(root: Json): Json {
    const components: Record<string, Record<string, unknown>> = {};
    const seen = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) {
        for (const n of node) walk(n);
        return;
      }
      if (!node || typeof node !== 'object') return;
      for (const [key, value] of Object.entries(node)) {
        if (key === '$ref' && typeof value === 'string' && !seen.has(value)) {
          seen.add(value);
          const [, kind, name] = value.split('/').slice(0, 4).slice(1);
          const target = this.pointer(value);
          components[kind] ??= {};
          components[kind][name] = normalize(target);
          walk(target);
        } else if (key !== 'example' && key !== 'examples') {
          walk(value);
        }
      }
    };
    walk(root);
    // no $id: a schema that fails to compile must not stay registered under it
    return { components, allOf: [normalize(root)] };
  }

  private validator(
    key: string,
    schema: () => Json,
    coerce: boolean,
  ): (data: unknown) => { ok: boolean; text: string } {
    let fn = this.compiled.get(key);
    if (!fn) {
      const ajv = coerce ? this.paramAjv : this.bodyAjv;
      fn = ajv.compile(this.document(schema()));
      this.compiled.set(key, fn);
    }
    const validate = fn;
    return (data) => {
      const ok = validate(data) as boolean;
      return { ok, text: ok ? '' : describeErrors(validate.errors ?? []) };
    };
  }
}

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    strict: false,
    allErrors: false,
    coerceTypes: coerce ? 'array' : false,
    useDefaults: false,
    validateSchema: false,
    logger: false,
  });
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  ajv.addFormat('uri', (s: string) => URL.canParse(s));
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && Math.abs(n) < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isSafeInteger(n) });
  for (const loose of [
    'uri-template',
    'email',
    'date',
    'binary',
    'hostname',
    'ip',
    'repo.nwo',
    'uuid',
    'ssh-key',
  ]) {
    ajv.addFormat(loose, true);
  }
  return ajv;
}

/** OpenAPI 3.0's `nullable` beside `oneOf`/`allOf` (no `type`) becomes JSON Schema's `anyOf [..., null]`. */
function normalize(node: unknown): Json {
  const walk = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(walk);
    if (!n || typeof n !== 'object') return n;
    const out: Json = {};
    for (const [k, v] of Object.entries(n)) out[k] = k === 'example' || k === 'examples' ? v : walk(v);
    // GitHub sends null for nullable enums whose list leaves null out
    if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null))
      out.enum = [...out.enum, null];
    if (out.nullable === true && out.type === undefined) {
      const { nullable: _, ...rest } = out;
      return { anyOf: [rest, { type: 'null' }] };
    }
    return out;
  };
  return walk(node) as Json;
}

function paramsSchema(operation: Operation): Json {
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const p of operation.parameters) {
    if (p.in !== 'path' && p.in !== 'query') continue;
    properties[p.name] = p.schema ?? {};
    if (p.required || p.in === 'path') required.push(p.name);
  }
  return { type: 'object', properties, required };
}

/** GitHub answers 422 "is not a permitted key" for unknown top-level fields where the schema lists its fields. */
function unknownKeys(schema: Json, body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const properties = schema.properties as Json | undefined;
  if (schema.type !== 'object' || !properties || schema.additionalProperties !== undefined) return undefined;
  return Object.keys(body).find((k) => !(k in properties));
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 3)
    .map(
      (e) =>
        `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    )
    .join('; ');
}

/** The smallest value that satisfies a schema of GitHub's description: required fields only, first choices, nulls where allowed. */
export function minimalInstance(description: GitHubDescription, schema: Json, depth = 0): unknown {
  const s = resolveSchema(description, schema);
  if (depth > 12) return null;
  // the object asked for is built even when the schema allows null; nested nullables stay null
  if (s.nullable === true && depth > 0) return null;
  for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
    const parts = s[key] as Json[] | undefined;
    if (!parts) continue;
    if (key !== 'allOf') return minimalInstance(description, parts[0], depth + 1);
    return Object.assign({}, ...parts.map((p) => minimalInstance(description, p, depth + 1)));
  }
  if (Array.isArray(s.enum)) return s.enum[0];
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'string':
      if (s.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (s.format === 'uri') return 'https://api.github.com/';
      return '';
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 0;
    case 'boolean':
      return false;
    case 'array':
      return [];
    case 'null':
      return null;
    default: {
      const out: Record<string, unknown> = {};
      const props = (s.properties ?? {}) as Record<string, Json>;
      for (const name of (s.required as string[] | undefined) ?? []) {
        out[name] = props[name] ? minimalInstance(description, props[name], depth + 1) : null;
      }
      return out;
    }
  }
}

function resolveSchema(description: GitHubDescription, schema: Json): Json {
  let s = schema;
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) s = description.resolve(s.$ref);
  return s;
}
