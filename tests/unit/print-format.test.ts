/** Escaping and formatting for the printable pages: hostile names stay text, money prints exactly from minor units. */
import { describe, expect, it } from 'vitest';
import { categoryLabel, esc, formatMoney, formatQuantity, formatUnitPrice, localDate, resourceLabel } from '../../server/print/format.js';
import { displayName } from '../../server/print/statement.js';

describe('esc', () => {
  it.each([
    ['<script>alert(1)</script>', '&lt;script&gt;alert(1)&lt;/script&gt;'],
    ['"><img src=x onerror=alert(1)>', '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'],
    ["O'Brien & Sons", 'O&#39;Brien &amp; Sons'],
    ['&amp;', '&amp;amp;'],
    ['张三 <b>', '张三 &lt;b&gt;'],
    ['plain', 'plain'],
    [42, '42'],
  ] as const)('%s', (input, expected) => {
    expect(esc(input)).toBe(expected);
  });

  it('leaves no character that could open a tag, an entity or end an attribute', () => {
    const hostile = `<script>"'&</script>\`=`;
    expect(esc(hostile)).not.toMatch(/[<>"']|&(?!amp;|lt;|gt;|quot;|#39;)/);
  });

  it('escapes both names of a party, in either language', () => {
    const n = { name: '<script>x</script>', nameZh: '"张&三"' };
    expect(displayName(n, 'en')).toBe('&lt;script&gt;x&lt;/script&gt; (&quot;张&amp;三&quot;)');
    expect(displayName(n, 'zh-CN')).toBe('&quot;张&amp;三&quot;（&lt;script&gt;x&lt;/script&gt;）');
    expect(displayName({ name: 'Only <English>', nameZh: null }, 'zh-CN')).toBe('Only &lt;English&gt;');
  });
});

describe('formatMoney', () => {
  it.each([
    [123_450, 'zh-CN', '¥1,234.50'],
    [123_450, 'en', '¥1,234.50'],
    [0, 'zh-CN', '¥0.00'],
    [5, 'en', '¥0.05'],
    [-600, 'zh-CN', '-¥6.00'],
    [-600, 'en', '-¥6.00'],
    [9_007_199_254_740_991, 'en', '¥90,071,992,547,409.91'],
  ] as const)('%i fen in %s → %s', (minor, lang, expected) => {
    expect(formatMoney(minor, 'CNY', lang)).toBe(expected);
  });

  it('follows the currency’s minor unit', () => {
    expect(formatMoney(1234, 'JPY', 'en')).toBe('¥1,234');
    expect(formatMoney(123_456, 'EUR', 'en')).toBe('€1,234.56');
    expect(formatMoney(123_456, 'USD', 'zh-CN')).toBe('$1,234.56');
  });

  it('refuses money that is not whole minor units', () => {
    expect(() => formatMoney(1.5, 'CNY', 'en')).toThrow(/integer number of minor units/);
  });
});

describe('quantities, unit prices and labels', () => {
  it('shows minutes as hours, Wh as kWh, days as days', () => {
    expect(formatQuantity(54, 'minute', 'en')).toBe('0.9 h');
    expect(formatQuantity(54, 'minute', 'zh-CN')).toBe('0.9 小时');
    expect(formatQuantity(1, 'day', 'zh-CN')).toBe('1 天');
    expect(formatQuantity(1234, 'wh', 'en')).toBe('1.234 kWh');
    expect(formatQuantity(0, 'minute', 'en')).toBe('0 h');
    expect(formatQuantity(1, 'booking', 'zh-CN')).toBe('1 次爽约');
  });

  it('prices per unit', () => {
    expect(formatUnitPrice(3000, 'minute', 'CNY', 'en')).toBe('¥30.00/h');
    expect(formatUnitPrice(500, 'day', 'CNY', 'zh-CN')).toBe('¥5.00/天');
    expect(formatUnitPrice(2000, 'booking', 'CNY', 'en')).toBe('¥20.00/no-show');
  });

  it('labels known classes and categories, and falls back to the key', () => {
    expect(resourceLabel('machine:laser-cutter', 'zh-CN')).toBe('激光切割机');
    expect(resourceLabel('machine:bandsaw', 'en')).toBe('Machine: bandsaw');
    expect(resourceLabel('desk:hot', 'en')).toBe('Hot desk');
    expect(resourceLabel('something:new', 'en')).toBe('something:new');
    expect(categoryLabel('shared_equipment', 'zh-CN')).toBe('共享设备');
    expect(categoryLabel('broadband', 'en')).toBe('Broadband');
    expect(categoryLabel('a_new_category', 'zh-CN')).toBe('a_new_category');
  });

  it('gives local dates in the site’s time zone', () => {
    // 2026-11-30 16:00 UTC is 2026-12-01 00:00 in Shanghai.
    expect(localDate(Date.UTC(2026, 10, 30, 16), 'Asia/Shanghai')).toBe('2026-12-01');
    expect(localDate(Date.UTC(2026, 10, 30, 16) - 1, 'Asia/Shanghai')).toBe('2026-11-30');
  });
});
