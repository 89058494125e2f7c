/**
 * Fuzz (issue 11, hostile input): the site file reader (core/site/parse.ts)
 * on text: the example site (made small, core/site/example.ts) written as
 * YAML and mutated line by line (deleted, duplicated, swapped, re-indented,
 * truncated, a value replaced, junk, tabs, anchors, tags, a second document,
 * prototype keys), random YAML-ish text, alias bombs and an oversized file.
 * Properties: nothing throws; a refusal lists errors, each naming the file
 * and a line and column inside it; an accepted site is internally consistent
 * (site-support.ts siteProblems). site-validate.test.ts mutates the object.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSiteText } from '../../core/site/parse.js';
import { baseLines, baseYaml, FILE, parseOutcome } from './site-support.js';
import { check, PROTO_KEYS } from './support.js';

// ---------------------------------------------------------------------------------------------
// Line-level mutations of the YAML text

type LineOp = (lines: string[]) => void;
const at = (lines: readonly string[], i: number): number => i % Math.max(1, lines.length);
const lineOp: fc.Arbitrary<LineOp> = fc.oneof(
  fc.nat().map((i) => (l: string[]) => void l.splice(at(l, i), 1)),
  fc.nat().map((i) => (l: string[]) => void l.splice(at(l, i), 0, l[at(l, i)] ?? '')),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => (l: string[]) => {
    const a = at(l, i);
    const b = at(l, j);
    [l[a], l[b]] = [l[b]!, l[a]!];
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(([i, d]) => (l: string[]) => {
    const k = at(l, i);
    l[k] = d >= 0 ? ' '.repeat(d) + l[k] : l[k]!.slice(-d);
  }),
  // a scalar after "key: " replaced
  fc.tuple(fc.nat(), fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('~', 'null', '[]', '{}', '-1', '1e999', '.nan', "'", '"', '&a x', '*a', '!!binary x', '!Ref x', '0x1F', 'yes', '2026-13-45', '# comment'))).map(([i, v]) => (l: string[]) => {
    const k = at(l, i);
    const m = /^(\s*-?\s*[A-Za-z]+:)\s.*$/.exec(l[k]!);
    if (m) l[k] = `${m[1]} ${v}`;
  }),
  fc.tuple(fc.nat(), fc.string({ maxLength: 40 })).map(([i, junk]) => (l: string[]) => void l.splice(at(l, i), 0, junk)),
  fc.nat().map((i) => (l: string[]) => void (l[at(l, i)] = `\t${l[at(l, i)]}`)),
  fc.nat().map((i) => (l: string[]) => void l.splice(at(l, i), 0, '---')),
  fc.nat().map((i) => (l: string[]) => void l.splice(at(l, i) + 1)),
  fc.tuple(fc.nat(), fc.constantFrom(...PROTO_KEYS)).map(([i, k]) => (l: string[]) => {
    const idx = at(l, i);
    const indent = /^\s*(- )?/.exec(l[idx]!)![0].replace('- ', '  ');
    l.splice(idx + 1, 0, `${indent}${k}: 1`);
  }),
);

const mutatedYaml = fc.array(lineOp, { minLength: 1, maxLength: 4 }).map((ops) => {
  const l = [...baseLines];
  for (const op of ops) op(l);
  return l.join('\n');
});

describe('site file text fuzz', () => {
  it('reads the base site (the fuzz starts from a valid file)', () => {
    expect(parseOutcome(baseYaml)).toEqual({ ok: true, problems: [] });
  });

  it('YAML mutated line by line: never throws; errors at a line of the file; accepted sites consistent', () => {
    let accepted = 0;
    check(
      fc.property(mutatedYaml, (text) => {
        const { ok, problems } = parseOutcome(text);
        if (problems.length > 0) throw new Error(problems.join('; '));
        if (ok) accepted++;
      }),
      0x517e_0001,
      600,
    );
    expect(accepted).toBeGreaterThan(20);
  });

  it('random YAML-ish text: never throws; errors at a line of the file', () => {
    const yamlish = fc.array(
      fc.oneof(
        fc.constantFrom('version: 1', 'site:', '  id: x', 'spaces:', '  - id: a', '    kind: lab', '- ', ': ', '&a [1, *a]', '*a', '{', '}', '[', ']', '"', "'", '|', '>', '? ', '!!str', '%YAML 1.2', '---', '...', '\t', '#', '__proto__:', '<<: *a'),
        fc.string({ maxLength: 20 }),
      ),
      { maxLength: 30 },
    );
    check(
      fc.property(yamlish, fc.constantFrom('\n', '\r\n', '\r'), (parts, nl) => {
        const { problems } = parseOutcome(parts.join(nl));
        if (problems.length > 0) throw new Error(problems.join('; '));
      }),
      0x517e_0004,
      3000,
    );
  });

  it('billion laughs and an oversized file are refused quickly, at line 1', () => {
    const laughs = ['a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`)].join('\n');
    for (const text of [laughs, 'x'.repeat(6 * 1024 * 1024)]) {
      const t0 = performance.now();
      const r = parseSiteText(text, FILE);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.errors[0]!.line).toBe(1);
    }
  });
});
