/**
 * The statistics report's message catalogue (server/print/evaluation-messages.ts)
 * is complete in both languages, names every indicator group and null reason,
 * and the page shows values by unit as documented.
 */
import { describe, expect, it } from 'vitest';
import { INDICATORS } from '../../core/evaluation/catalogue.js';
import { NULL_REASONS } from '../../core/evaluation/values.js';
import { EVALUATION_MESSAGES, emsg, groupKey, nullKey, periodKey } from '../../server/print/evaluation-messages.js';
import { formatValue } from '../../server/print/evaluation.js';
import { LANGS, placeholders } from '../../server/print/messages.js';
import { PERIOD_KINDS } from '../../core/evaluation/periods.js';

describe('evaluation message catalogue', () => {
  const entries = Object.entries(EVALUATION_MESSAGES) as [string, Record<string, string>][];

  it('has every key in both languages and nothing else, none empty', () => {
    expect(entries.length).toBeGreaterThan(40);
    for (const [key, texts] of entries) {
      expect({ key, langs: Object.keys(texts).sort() }).toEqual({ key, langs: [...LANGS].sort() });
      for (const l of LANGS) expect({ key, l, empty: texts[l]!.trim() === '' }).toEqual({ key, l, empty: false });
    }
  });

  it('uses the same placeholders in both languages', () => {
    const mismatched = entries.filter(([, t]) => JSON.stringify(placeholders(t['zh-CN']!)) !== JSON.stringify(placeholders(t.en!))).map(([k]) => k);
    expect(mismatched).toEqual([]);
  });

  it('has Chinese text in every zh-CN message', () => {
    const latinOnly = entries.filter(([, t]) => !/[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]/.test(t['zh-CN']!)).map(([k]) => k);
    expect(latinOnly).toEqual([]);
  });

  it('names every indicator group, null reason and period kind the report can show', () => {
    for (const g of new Set(INDICATORS.map((d) => d.group))) expect(Object.hasOwn(EVALUATION_MESSAGES, groupKey(g))).toBe(true);
    for (const r of NULL_REASONS) expect(Object.hasOwn(EVALUATION_MESSAGES, nullKey(r))).toBe(true);
    for (const k of PERIOD_KINDS) expect(Object.hasOwn(EVALUATION_MESSAGES, periodKey(k))).toBe(true);
    for (let d = 1; d <= 7; d++) expect(Object.hasOwn(EVALUATION_MESSAGES, `weekday.${d}`)).toBe(true);
  });

  it('fills placeholders', () => {
    expect(emsg('en', 'report.heading', { period: emsg('en', 'period.quarter', { key: '2026-Q4' }) })).toBe('Statistics report: quarter 2026-Q4');
    expect(emsg('zh-CN', 'report.heading', { period: emsg('zh-CN', 'period.month', { key: '2026-11' }) })).toBe('2026-11 月度 统计报告');
  });
});

describe('formatValue', () => {
  it.each([
    [0.6123, 'ratio', 'en', '61.23%'],
    [0.6, 'ratio', 'zh-CN', '60%'],
    [56_200, 'money-minor', 'en', '¥562.00'],
    [1.5, 'hours', 'zh-CN', '1.5 小时'],
    [1.5, 'hours', 'en', '1.5 h'],
    [1234, 'people', 'en', '1,234'],
  ] as const)('%s %s in %s is %s', (value, unit, lang, text) => {
    expect(formatValue(value, unit, lang, 'CNY')).toBe(text);
  });
});
