/** The printable pages as markup: every user-supplied value escaped, columns and categories taken from the data. */
import { describe, expect, it } from 'vitest';
import type { Statement, StatementLine } from '../../core/accounting/price.js';
import { renderClaim, type ClaimPrint, type ClaimPrintFigures } from '../../server/print/claim.js';
import { renderStatement, type StatementPrint } from '../../server/print/statement.js';

const HOSTILE = `<script>alert("x")</script>&'`;
const SITE = { id: 's', name: 'Space <One>', nameZh: '一号&空间', timezone: 'Asia/Shanghai' };
const FROM = Date.UTC(2026, 9, 31, 16);
const TO = Date.UTC(2026, 10, 30, 16);

const line = (over: Partial<StatementLine> = {}): StatementLine => ({
  memberId: 'mem_x',
  teamId: 'team_x',
  resourceClass: 'machine:laser-cutter',
  unit: 'hour',
  date: '2026-11-03',
  from: FROM,
  to: FROM + 3600_000,
  sessions: [],
  quantityUnit: 'minute',
  quantity: 150,
  freeQuantity: 120,
  grantedQuantity: 0,
  chargedQuantity: 30,
  unitPriceMinor: 3000,
  startingFeeMinor: 1000,
  grossMinor: 2500,
  amountMinor: 2500,
  referenceMinor: 30_000,
  subsidyMinor: 27_500,
  capApplied: 'daily',
  rateVersion: '2026-01-01',
  override: null,
  grant: null,
  ...over,
});

function statementPrint(kind: 'member' | 'team', lang: 'zh-CN' | 'en'): StatementPrint {
  const lines = [line()];
  const statement: Statement = { party: { kind, id: 'x' }, currency: 'CNY', from: FROM, to: TO, lines, totals: { lines: 1, grossMinor: 2500, amountMinor: 2500, referenceMinor: 30_000, subsidyMinor: 27_500 } };
  return {
    lang,
    site: SITE,
    month: '2026-11',
    rateCardId: 3,
    statement,
    party: { names: { name: HOSTILE, nameZh: HOSTILE }, memberNo: kind === 'member' ? `M-<1>` : null },
    members: { mem_x: { name: HOSTILE, nameZh: null, memberNo: 'M-"2"' } },
    generatedAt: TO + 3600_000,
  };
}

/** Markup outside the page's own <style>: what a value could inject into. */
const bodyOf = (html: string) => html.slice(html.indexOf('</head>'));

describe('renderStatement', () => {
  it.each(['zh-CN', 'en'] as const)('escapes every name in %s, for a member and a team', (lang) => {
    for (const kind of ['member', 'team'] as const) {
      const html = renderStatement(statementPrint(kind, lang));
      expect(html).not.toContain('<script');
      expect(html).not.toContain('"x")');
      expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
      expect(html).not.toContain('Space <One>');
      expect(html).toContain('一号&amp;空间');
      if (kind === 'member') expect(html).toContain('M-&lt;1&gt;');
      else expect(html).toContain('M-&quot;2&quot;');
    }
  });

  it('lays out the lines, the totals, the note and the generated time in the language asked for', () => {
    const zh = renderStatement(statementPrint('member', 'zh-CN'));
    expect(zh).toMatch(/^<!doctype html>\n<html lang="zh-CN">/);
    expect(zh).toContain('@page { size: A4;');
    expect(zh).toContain('2026-11 费用结算单');
    expect(zh).toContain('2026-11-01 至 2026-11-30');
    expect(zh).toContain('2.5 小时');
    expect(zh).toContain('含开机费 ¥10.00');
    expect(zh).toContain('已达每日上限');
    expect(zh).toContain('data-total="subsidy">¥275.00<');
    expect(zh).toContain('补贴 = 市场参考价值 − 实收金额');
    // The site's local time, with its offset (ICU places the offset as each language writes it).
    expect(zh).toMatch(/生成时间：2026\/12\/01 (GMT\+8 01:00|01:00 GMT\+8)</);
    const en = renderStatement(statementPrint('team', 'en'));
    expect(en).toContain('<th>Member</th>');
    expect(en).toContain('incl. starting fee ¥10.00');
    expect(en).toContain('Subsidy = reference value − amount charged');
    expect(bodyOf(en)).not.toMatch(/<script|<link|<img|https?:/);
  });
});

const figures = (over: Partial<ClaimPrintFigures> = {}): ClaimPrintFigures => ({
  deliveries: 1,
  hours: 1.5,
  days: 0,
  kwh: 0,
  participants: 4,
  referenceMinor: 40_000,
  feesMinor: 0,
  claimableMinor: 40_000,
  evidence: { charges: 0, adjustments: 0, sessions: 0, records: 0, services: 1 },
  ...over,
});

function claimPrint(lines: ClaimPrint['lines'], total: ClaimPrintFigures, lang: 'zh-CN' | 'en' = 'en'): ClaimPrint {
  return { lang, site: SITE, month: '2026-11', currency: 'CNY', lines, total, closedAt: TO + 3600_000, generatedAt: TO + 7200_000 };
}

describe('renderClaim', () => {
  it('labels known categories in both languages and shows an unknown one by its key, escaped', () => {
    const html = renderClaim(claimPrint([{ category: 'training', ...figures() }, { category: '<new>', ...figures() }], figures({ deliveries: 2 })));
    expect(html).toContain('<td>Training<span class="sub">培训</span></td>');
    expect(html).toContain('data-category="&lt;new&gt;"><td>&lt;new&gt;</td>');
    expect(html).not.toContain('<new>');
    expect(html).toContain('services 1');
    expect(html).not.toContain('Costs');
    expect(html).not.toContain('Cost categories');
  });

  it('shows the costs column only when the lines carry costs, and names unknown evidence kinds by key', () => {
    const costs = figures({ costsMinor: 120_000, claimableMinor: 120_000, evidence: { costs: 2, invoices: 3 } });
    const html = renderClaim(claimPrint([{ category: 'broadband', ...costs }], costs, 'zh-CN'));
    expect(html).toContain('<th class="num">成本</th>');
    expect(html).toContain('¥1,200.00');
    expect(html).toContain('<td>宽带<span class="sub">Broadband</span></td>');
    expect(html).toContain('成本凭证 2');
    expect(html).toContain('invoices 3');
    expect(html).toContain('成本类别（宽带、软件）：可申报金额 = 成本 − 已收费用');
  });

  it('says so when there is nothing to claim', () => {
    expect(renderClaim(claimPrint([], figures({ deliveries: 0 }), 'zh-CN'))).toContain('本月无可申报项目。');
  });
});
