/**
 * core/evaluation/catalogue.ts and docs/indicators.md: ids are unique, every
 * indicator has both names, a unit and the guidance it answers, and the
 * documentation lists each with the catalogue's own names (so the two cannot
 * drift apart).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { INDICATORS, INDICATOR_BY_ID, UNIT_LABELS } from '../../core/evaluation/catalogue.js';

const DOC = readFileSync(new URL('../../docs/indicators.md', import.meta.url), 'utf8');

describe('indicator catalogue', () => {
  it('has unique ids, both names, a known unit and a guidance reference', () => {
    expect(INDICATOR_BY_ID.size).toBe(INDICATORS.length);
    for (const d of INDICATORS) {
      expect(d.id).toMatch(/^[a-z0-9-]+$/);
      expect(d.nameZh).toMatch(/\p{Script=Han}/u);
      expect(d.nameEn).toMatch(/^[A-Z]/);
      expect(UNIT_LABELS[d.unit]).toBeDefined();
      expect(d.guidance.length).toBeGreaterThan(0);
    }
  });

  it.each(INDICATORS.map((d) => [d.id, d] as const))('docs/indicators.md lists %s with its names', (id, d) => {
    const line = DOC.split('\n').find((l) => l.startsWith(`| \`${id}\` |`));
    expect(line, `no catalogue row for ${id}`).toBeDefined();
    expect(line).toContain(`| ${d.nameZh} | ${d.nameEn} |`);
  });
});
