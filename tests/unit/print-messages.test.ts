/** The printable pages' message catalogue is complete in both languages, and the page language is chosen as documented. */
import { describe, expect, it } from 'vitest';
import { chooseLang, LANGS, MESSAGES, msg, placeholders } from '../../server/print/messages.js';

describe('print message catalogue', () => {
  const entries = Object.entries(MESSAGES) as [string, Record<string, string>][];

  it('has every key in every language, none empty', () => {
    expect(entries.length).toBeGreaterThan(50);
    const gaps = entries.flatMap(([key, texts]) => LANGS.filter((l) => typeof texts[l] !== 'string' || texts[l].trim() === '').map((l) => `${key}: ${l}`));
    expect(gaps).toEqual([]);
    // Nothing but the two languages.
    for (const [, texts] of entries) expect(Object.keys(texts).sort()).toEqual([...LANGS].sort());
  });

  it('uses the same placeholders in both languages', () => {
    const mismatched = entries.filter(([, t]) => JSON.stringify(placeholders(t['zh-CN']!)) !== JSON.stringify(placeholders(t.en!))).map(([k]) => k);
    expect(mismatched).toEqual([]);
  });

  it('has Chinese text in the zh-CN messages (not English copied over)', () => {
    // Every zh-CN message holds at least one CJK character or full-width punctuation mark.
    const latinOnly = entries.filter(([, t]) => !/[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]/.test(t['zh-CN']!)).map(([k]) => k);
    expect(latinOnly).toEqual([]);
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(msg('en', 'statement.heading', { month: '2026-11' })).toBe('Statement for 2026-11');
    expect(msg('zh-CN', 'statement.heading', { month: '2026-11' })).toBe('2026-11 费用结算单');
    expect(msg('en', 'statement.heading')).toBe('Statement for {month}');
  });
});

describe('chooseLang', () => {
  it.each([
    ['zh-CN', 'en-US', 'zh-CN'],
    ['en', 'zh-CN,zh;q=0.9', 'en'],
    [undefined, 'zh-CN,zh;q=0.9,en;q=0.8', 'zh-CN'],
    [undefined, 'zh-TW', 'zh-CN'],
    [undefined, 'zh', 'zh-CN'],
    [undefined, 'zh-Hans-CN', 'zh-CN'],
    [undefined, 'en-GB,en;q=0.9,zh-CN;q=0.8', 'en'],
    [undefined, 'en;q=0.5, zh-CN;q=0.9', 'zh-CN'],
    [undefined, 'zh-CN;q=0, en', 'en'],
    [undefined, 'zhx', 'en'],
    [undefined, 'de-DE', 'en'],
    [undefined, '', 'en'],
    [undefined, undefined, 'en'],
  ] as const)('query %s, Accept-Language %s → %s', (query, accept, expected) => {
    expect(chooseLang(query, accept)).toBe(expected);
  });
});
