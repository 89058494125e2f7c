/**
 * Fuzz (issue 11, hostile input): the site validator (core/site/validate.ts)
 * and the reader on JSON text (a YAML subset): the example site object
 * mutated anywhere (a value replaced with a wrong one, removed, an item
 * duplicated, a reference or id pointed at another id, a prototype key
 * added), and arbitrary values.
 * Properties: nothing throws; a refusal carries errors with messages (and, as
 * text, lines inside the file); an accepted site is internally consistent:
 * unique ids, every reference resolves, devices' targets and spaces exist,
 * MQTT identities and bridge names point at devices of the site.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateSite } from '../../core/site/validate.js';
import { base, mutatedObject, parseOutcome, siteProblems } from './site-support.js';
import { check, deepNest } from './support.js';

describe('site object fuzz', () => {
  it('the site object mutated anywhere, as JSON text: never throws; accepted sites consistent', () => {
    check(
      fc.property(mutatedObject, (o) => {
        let text: string;
        try {
          text = JSON.stringify(o);
        } catch {
          return; // a nesting JSON.stringify cannot write is not a file anyone can have
        }
        const { problems } = parseOutcome(text);
        if (problems.length > 0) throw new Error(problems.join('; '));
      }),
      0x517e_0002,
      400,
    );
  });

  it('validateSite on mutated objects and on arbitrary values: never throws; accepted sites consistent', () => {
    let accepted = 0;
    check(
      fc.property(fc.oneof({ weight: 4, arbitrary: mutatedObject }, { weight: 1, arbitrary: fc.anything({ maxDepth: 4 }) }), (o) => {
        let r;
        try {
          r = validateSite(o);
        } catch (e) {
          throw new Error(`validateSite threw ${(e as Error).name}: ${(e as Error).message.slice(0, 300)}`);
        }
        if (r.ok) {
          accepted++;
          const p = siteProblems(r.site);
          if (p.length > 0) throw new Error(p.join('; '));
        } else {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) expect(e.message.length).toBeGreaterThan(0);
        }
      }),
      0x517e_0003,
      2500,
    );
    expect(accepted).toBeGreaterThan(50);
  });

  it('regression (FUZZ_SEED=4242, FUZZ_RUNS_SCALE=5): a bridge whose kind is a deeply nested list is an error, not a RangeError', () => {
    const o = structuredClone(base) as { devices: Record<string, unknown>[] };
    const bridge = o.devices.findIndex((d) => d.kind === 'zigbee-bridge');
    o.devices[bridge]!.kind = deepNest(30_000);
    const machine = structuredClone(base) as { equipment: Record<string, unknown>[]; spaces: Record<string, unknown>[] };
    machine.spaces[0]!.kind = 'room';
    machine.equipment[0]!.space = machine.spaces[0]!.id;
    machine.equipment[0]!.id = deepNest(30_000);
    for (const bad of [o, machine]) {
      const r = validateSite(bad);
      expect(r.ok).toBe(false);
    }
  });
});
