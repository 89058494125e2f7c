/**
 * The subsidy claim of a closed month as a printable HTML page, one row per
 * category with both languages' labels. Categories, evidence kinds and the
 * costs column come from the data: a category or evidence kind the catalogue
 * does not know is shown by its key, and costs only when the lines carry them.
 */
import { categoryLabel, esc, formatMoney, formatNumber, localDateTime } from './format.js';
import { LANGS, hasMessage, msg, type Lang, type MessageKey } from './messages.js';
import { htmlPage } from './page.js';
import { displayName, type Names } from './statement.js';

export interface ClaimPrintFigures {
  readonly deliveries: number;
  readonly hours: number;
  readonly days: number;
  readonly kwh: number;
  readonly participants: number;
  readonly referenceMinor: number;
  readonly feesMinor: number;
  readonly costsMinor?: number;
  readonly claimableMinor: number;
  readonly evidence: Readonly<Record<string, number>>;
}

export interface ClaimPrint {
  readonly lang: Lang;
  readonly site: Names & { readonly id: string; readonly timezone: string };
  readonly month: string;
  readonly currency: string;
  readonly lines: readonly (ClaimPrintFigures & { readonly category: string })[];
  readonly total: ClaimPrintFigures;
  readonly closedAt: number | null;
  readonly generatedAt: number;
}

const EVIDENCE_ORDER = ['charges', 'adjustments', 'sessions', 'records', 'services', 'costs'];

function evidenceCell(e: Readonly<Record<string, number>>, lang: Lang): string {
  const keys = Object.keys(e).sort((a, b) => (EVIDENCE_ORDER.indexOf(a) + 1 || 99) - (EVIDENCE_ORDER.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const parts = keys
    .filter((k) => e[k] !== 0)
    .map((k) => {
      const key = `evidence.${k}`;
      return `<span class="sub" data-evidence="${esc(k)}">${esc(hasMessage(key) ? msg(lang, key) : k)} ${esc(formatNumber(e[k] ?? 0, lang, 0))}</span>`;
    });
  return parts.length > 0 ? parts.join('') : '–';
}

export function renderClaim(p: ClaimPrint): string {
  const { lang } = p;
  const other = LANGS.find((l) => l !== lang)!;
  const withCosts = p.lines.some((l) => l.costsMinor !== undefined) || p.total.costsMinor !== undefined;
  const money = (m: number | undefined) => (m === undefined ? '–' : esc(formatMoney(m, p.currency, lang)));
  const num = (n: number, digits: number) => esc(formatNumber(n, lang, digits));
  const figures = (f: ClaimPrintFigures) =>
    [
      `<td class="num">${num(f.deliveries, 0)}</td>`,
      `<td class="num">${num(f.hours, 2)}</td>`,
      `<td class="num">${num(f.days, 0)}</td>`,
      `<td class="num">${num(f.kwh, 3)}</td>`,
      `<td class="num">${num(f.participants, 0)}</td>`,
      `<td class="num">${money(f.referenceMinor)}</td>`,
      `<td class="num">${money(f.feesMinor)}</td>`,
      withCosts ? `<td class="num">${money(f.costsMinor)}</td>` : '',
      `<td class="num" data-field="claimable">${money(f.claimableMinor)}</td>`,
      `<td>${evidenceCell(f.evidence, lang)}</td>`,
    ].join('');
  const heads: MessageKey[] = ['col.category', 'col.deliveries', 'col.hours', 'col.days', 'col.kwh', 'col.participants', 'col.reference', 'col.fees', ...(withCosts ? (['col.costs'] as const) : []), 'col.claimable', 'col.evidence'];
  const rows = p.lines.map((l) => {
    const label = categoryLabel(l.category, lang);
    const second = categoryLabel(l.category, other);
    return `<tr data-category="${esc(l.category)}"><td>${esc(label)}${second !== label ? `<span class="sub">${esc(second)}</span>` : ''}</td>${figures(l)}</tr>`;
  });
  const meta: [string, string][] = [
    [msg(lang, 'field.site'), displayName(p.site, lang)],
    [msg(lang, 'field.period'), esc(p.month)],
    [msg(lang, 'field.currency'), esc(p.currency)],
    ...(p.closedAt !== null ? [[msg(lang, 'field.closed'), esc(localDateTime(p.closedAt, p.site.timezone, lang))] as [string, string]] : []),
  ];
  return htmlPage(
    lang,
    `${msg(lang, 'claim.title')} ${p.month} ${p.site.name}`,
    `<header>
<h1>${esc(msg(lang, 'claim.heading', { month: p.month }))}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('\n')}
</dl>
</header>
<table class="claim">
<thead><tr>${heads.map((h, i) => `<th${i === 0 || h === 'col.evidence' ? '' : ' class="num"'}>${esc(msg(lang, h))}</th>`).join('')}</tr></thead>
<tbody>
${rows.length > 0 ? rows.join('\n') : `<tr><td colspan="${heads.length}">${esc(msg(lang, 'claim.empty'))}</td></tr>`}
</tbody>
<tfoot><tr data-category="total"><td>${esc(msg(lang, 'row.total'))}</td>${figures(p.total)}</tr></tfoot>
</table>
<p class="note">${esc(msg(lang, 'claim.note'))}${withCosts ? `${lang === 'zh-CN' ? '' : ' '}${esc(msg(lang, 'claim.noteCosts'))}` : ''}</p>
<footer>${msg(lang, 'field.labelled', { label: esc(msg(lang, 'field.generated')), value: esc(localDateTime(p.generatedAt, p.site.timezone, lang)) })}</footer>`,
  );
}
