/**
 * Shared pieces of the property-based fuzzers (issue 11, "Hostile input"):
 * fixed seeds so a failure reproduces, a run budget per file, hostile value
 * generators, and a runtime check of the signal shape every decoder must
 * produce (core/signals.ts declares it as types only).
 *
 * A failing property prints fast-check's report: the seed, the path to the
 * shrunk counterexample and the counterexample itself. Re-run one case with
 * `FUZZ_SEED=<seed> npx vitest run tests/fuzz/<file>`; widen a run with
 * `FUZZ_RUNS_SCALE=10`.
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { CREDENTIAL_FORMATS, KINDS_BY_DEVICE, type Signal } from '../../core/signals.js';
import { DEVICE_KINDS } from '../../core/site/model.js';
import { toPoint } from '../../core/points.js';
import { toLine } from '../../gateway/sink/line-protocol.js';
import type { DecodeContext, DecodeResult } from '../../gateway/decoders/types.js';

const scale = Number(process.env.FUZZ_RUNS_SCALE ?? '1');
const seedOverride = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** fast-check parameters with a fixed seed (or FUZZ_SEED) and a scaled run count. */
export function params<T>(seed: number, numRuns: number): fc.Parameters<T> {
  return { seed: seedOverride ?? seed, numRuns: Math.max(1, Math.round(numRuns * scale)), reporter: report };
}

/** fast-check's own report prints the whole counterexample (megabytes for a deep payload): this one keeps it short. */
function report<T>(d: fc.RunDetails<T>): void {
  if (!d.failed) return;
  const example = d.counterexample === null ? '(none)' : inspect(d.counterexample, { depth: 4, maxArrayLength: 40, maxStringLength: 300, breakLength: Infinity });
  const error = d.errorInstance instanceof Error ? d.errorInstance.message : String(d.errorInstance);
  throw new Error(
    `property failed after ${d.numRuns} run(s), ${d.numShrinks} shrink(s); reproduce with FUZZ_SEED=${d.seed} (path ${d.counterexamplePath ?? '-'})\n` +
      `counterexample: ${example.slice(0, 1500)}\nerror: ${error.slice(0, 1500)}`,
  );
}

/** Runs a property with a fixed seed; a failure names the seed and a shortened counterexample. */
export function check<T>(prop: fc.IProperty<T>, seed: number, numRuns: number): void;
export function check<T>(prop: fc.IAsyncProperty<T>, seed: number, numRuns: number): Promise<void>;
export function check<T>(prop: fc.IProperty<T> | fc.IAsyncProperty<T>, seed: number, numRuns: number): void | Promise<void> {
  if (prop.isAsync()) return fc.assert(prop as fc.IAsyncProperty<T>, params<T>(seed, numRuns));
  fc.assert(prop as fc.IProperty<T>, params<T>(seed, numRuns));
}

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'] as const;

/** Numbers and number-ish strings that break naive range checks. */
export const nastyNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1e308, -1e308, 5e-324, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 0.1, 1.5, 4294967296, 9_999_999_999_999, 1e12 + 0.5),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e309', '0x10', '  12 ', '', '1,5', 'null', 'true', '१२'),
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((b) => Number(b)),
);

/** Any JSON-ish value that is not what a field wants: wrong types, nasty numbers, long strings, nesting. */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: nastyNumber },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40, unit: 'grapheme' }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], JSON.parse('{"__proto__":{"polluted":1}}') as unknown) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 6000 }).map((d) => deepNest(d)) },
);

/** `[[[…]]]` as a parsed value, `depth` deep (built without recursion). */
export function deepNest(depth: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
}

/** Raw JSON text `depth` levels deep, arrays or objects. */
export function deepJsonText(depth: number, object: boolean): string {
  return object ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

/**
 * Serialise a value to JSON text that keeps prototype keys as own keys (as
 * JSON.parse would read them from the wire) and deep nesting (JSON.stringify
 * overflows the stack from a few thousand levels).
 */
export function toJsonText(v: unknown): string {
  const parts: string[] = [];
  const emit = (x: unknown): void => {
    // Iterative for the deep arrays deepNest builds; everything else is shallow.
    let depth = 0;
    let cur = x;
    while (Array.isArray(cur) && cur.length === 1 && Array.isArray(cur[0])) {
      depth++;
      cur = cur[0];
    }
    if (depth > 0) {
      parts.push('['.repeat(depth));
      emit(cur);
      parts.push(']'.repeat(depth));
      return;
    }
    if (Array.isArray(cur)) {
      parts.push('[');
      cur.forEach((e, i) => {
        if (i > 0) parts.push(',');
        emit(e);
      });
      parts.push(']');
    } else if (cur !== null && typeof cur === 'object') {
      parts.push('{');
      Object.keys(cur).forEach((k, i) => {
        if (i > 0) parts.push(',');
        parts.push(JSON.stringify(k), ':');
        emit((cur as Record<string, unknown>)[k]);
      });
      parts.push('}');
    } else if (typeof cur === 'number' && !Number.isFinite(cur)) {
      parts.push(String(cur)); // NaN/Infinity: not JSON, a malformed payload on purpose
    } else if (cur === undefined) {
      parts.push('null');
    } else {
      parts.push(JSON.stringify(cur));
    }
  };
  emit(v);
  return parts.join('');
}

/** Mutations of a valid JSON object's text form, field by field. */
export function mutateObject(base: Record<string, unknown>): fc.Arbitrary<string> {
  const keys = Object.keys(base);
  type Op = (o: Record<string, unknown>) => void;
  const replace: fc.Arbitrary<Op> = fc.record({ k: fc.constantFrom(...keys), v: wrongValue }).map(({ k, v }) => (o) => void (o[k] = v));
  const drop: fc.Arbitrary<Op> = fc.constantFrom(...keys).map((k) => (o) => void delete o[k]);
  // An own prototype key or an unknown field, as JSON.parse reads it from the wire.
  const add: fc.Arbitrary<Op> = fc.record({ k: fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 12 })), v: wrongValue }).map(({ k, v }) => (o) => {
    Object.defineProperty(o, k, { value: v, enumerable: true, configurable: true, writable: true });
  });
  // Nudge a number by a fraction, a sign or a power of ten: near-valid values find range and integer slips.
  const nudge: fc.Arbitrary<Op> = fc
    .record({
      k: fc.constantFrom(...keys),
      frac: fc.integer({ min: -999, max: 999 }).map((n) => n / 1000),
      exp: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
      neg: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map(({ k, frac, exp, neg }) => (o) => {
      const v = o[k];
      if (typeof v === 'number') o[k] = (neg ? -1 : 1) * (v * 10 ** exp + frac);
    });
  const nest: fc.Arbitrary<Op> = fc.constantFrom(...keys).map((k) => (o) => void (o[k] = structuredClone(base)));
  const op = fc.oneof({ weight: 3, arbitrary: replace }, { weight: 3, arbitrary: nudge }, { weight: 1, arbitrary: drop }, { weight: 2, arbitrary: add }, { weight: 1, arbitrary: nest });
  return fc.array(op, { minLength: 1, maxLength: 3 }).map((ops) => {
    const o = structuredClone(base);
    for (const f of ops) f(o);
    return toJsonText(o);
  });
}

/** Byte-level mutations of a valid payload: flips, truncation, insertion, duplication. */
export function mutateBytes(valid: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.record({ i: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ i, bit }) => {
      const b = Buffer.from(valid);
      if (b.length > 0) b[i % b.length]! ^= 1 << bit;
      return b;
    }),
    fc.nat().map((n) => valid.subarray(0, n % (valid.length + 1))),
    fc.record({ i: fc.nat(), ins: fc.uint8Array({ maxLength: 8 }) }).map(({ i, ins }) => {
      const at = i % (valid.length + 1);
      return Buffer.concat([valid.subarray(0, at), Buffer.from(ins), valid.subarray(at)]);
    }),
    fc.constant(Buffer.concat([valid, valid])),
    fc.constant(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), valid])),
  );
}

const REJECT_REASONS = new Set(['payload_too_large', 'malformed_json', 'schema', 'bad_value']);

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const inRange = (v: unknown, min: number, max: number): boolean => isNum(v) && v >= min && v <= max;
const nullOr = (v: unknown, ok: (x: unknown) => boolean): boolean => v === null || ok(v);

/**
 * Problems with a signal a decoder produced for `ctx`: shape, types, ranges,
 * provenance, the kinds the device may send, and that it turns into a valid
 * InfluxDB line (core/points.ts + line protocol). Empty when it is sane.
 */
export function signalProblems(s: Signal, ctx: DecodeContext): string[] {
  const p: string[] = [];
  const d = ctx.device;
  if (typeof s.key !== 'string' || s.key.length === 0 || s.key.length > 512) p.push(`key ${JSON.stringify(s.key)}`);
  if (s.site !== ctx.site) p.push(`site ${s.site}`);
  if (s.device !== d.id) p.push(`device ${s.device}, expected ${d.id}`);
  if (!(DEVICE_KINDS as readonly string[]).includes(s.deviceKind) || s.deviceKind !== d.kind) p.push(`deviceKind ${s.deviceKind}`);
  if (s.space !== d.space) p.push('space');
  if (s.target !== d.target) p.push('target');
  if (!Number.isSafeInteger(s.seq) || s.seq < 0) p.push(`seq ${s.seq}`);
  if (!Number.isSafeInteger(s.ts)) p.push(`ts ${s.ts} is not an integer of ms`);
  if (s.tsSource === 'gateway' && s.ts !== ctx.receivedAt) p.push('gateway ts is not the receive time');
  if (s.tsSource === 'device' && !(s.ts >= ctx.receivedAt - ctx.maxPastMs && s.ts <= ctx.receivedAt + ctx.maxFutureMs)) p.push(`device ts ${s.ts} outside the accepted window`);
  if (s.tsSource !== 'gateway' && s.tsSource !== 'device') p.push(`tsSource ${String(s.tsSource)}`);
  if (!KINDS_BY_DEVICE[d.kind].includes(s.kind)) p.push(`a ${d.kind} may not send ${s.kind}`);
  switch (s.kind) {
    case 'badge':
      if (!(CREDENTIAL_FORMATS as readonly string[]).includes(s.credential.format)) p.push(`credential format ${s.credential.format}`);
      if (!/^([0-9A-F]{8}|[0-9A-F]{10}|[0-9A-F]{14}|[0-9A-F]{20}|\d{1,3}:\d{1,5})$/.test(s.credential.id)) p.push(`credential id ${JSON.stringify(s.credential.id)}`);
      break;
    case 'occupancy':
      if (typeof s.occupied !== 'boolean') p.push('occupied');
      break;
    case 'power':
      if (!inRange(s.powerW, 0, 1_000_000)) p.push(`powerW ${s.powerW}`);
      if (!nullOr(s.energyKwh, (v) => inRange(v, 0, 1e12))) p.push(`energyKwh ${s.energyKwh}`);
      if (!nullOr(s.voltageV, (v) => inRange(v, 0, 100_000))) p.push(`voltageV ${s.voltageV}`);
      if (!nullOr(s.currentA, (v) => inRange(v, 0, 100_000))) p.push(`currentA ${s.currentA}`);
      if (!nullOr(s.on, (v) => typeof v === 'boolean')) p.push('on');
      break;
    case 'health':
      if (!nullOr(s.online, (v) => typeof v === 'boolean')) p.push('online');
      if (!nullOr(s.batteryPct, (v) => inRange(v, 0, 100))) p.push(`batteryPct ${s.batteryPct}`);
      if (!nullOr(s.linkQuality, (v) => inRange(v, 0, 255))) p.push(`linkQuality ${s.linkQuality}`);
      break;
    default:
      p.push(`unknown kind ${(s as { kind: string }).kind}`);
  }
  if (p.length === 0) {
    try {
      const line = toLine(toPoint(s));
      if (!/ \d{19}$/.test(line)) p.push(`line protocol timestamp is not 19 digits of ns: ${line.slice(-40)}`);
    } catch (e) {
      p.push(`no InfluxDB line: ${(e as Error).message}`);
    }
  }
  return p;
}

/** Problems with a decode result as a whole (a typed error, or sane signals). */
export function resultProblems(r: DecodeResult, ctx: DecodeContext): string[] {
  if (!r.ok) {
    const p: string[] = [];
    if (!REJECT_REASONS.has(r.reason)) p.push(`reject reason ${r.reason}`);
    if (typeof r.detail !== 'string' || r.detail.length === 0) p.push('reject without a detail');
    else if (r.detail.length > 4096) p.push(`reject detail of ${r.detail.length} characters (goes to logs and the rejects table)`);
    return p;
  }
  const keys = new Set<string>();
  const p = r.signals.flatMap((s) => signalProblems(s, ctx));
  for (const s of r.signals) {
    if (keys.has(s.key)) p.push(`two signals share the key ${s.key}`);
    keys.add(s.key);
  }
  return p;
}

/** Milliseconds since an arbitrary origin (for "never hangs" budgets). */
export const nowMs = (): number => performance.now();
