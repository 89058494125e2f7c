/**
 * A member's or team's statement for a month as a printable HTML page
 * (docs/accounting.md, "Printable statement and claim"). Pure: the statement
 * as priced (core/accounting/price.ts), the names, the clock's reading and the
 * language in; markup out, every value escaped.
 */
import type { Statement, StatementLine } from '../../core/accounting/price.js';
import { esc, formatMoney, formatQuantity, formatUnitPrice, localDate, localDateTime, resourceLabel } from './format.js';
import { msg, type Lang } from './messages.js';
import { htmlPage } from './page.js';

/** A name as the roster has it: the name, and the Chinese name where known. */
export interface Names {
  readonly name: string;
  readonly nameZh: string | null;
}

export interface StatementPrint {
  readonly lang: Lang;
  readonly site: Names & { readonly id: string; readonly timezone: string };
  readonly month: string;
  readonly rateCardId: number;
  readonly statement: Statement;
  /** The party's name (null when it is no longer on the roster) and, for a member, their member number. */
  readonly party: { readonly names: Names | null; readonly memberNo: string | null };
  /** Members named on a team statement's lines, by id. */
  readonly members: Readonly<Record<string, Names & { readonly memberNo: string }>>;
  readonly generatedAt: number;
  /** A closed month: when it was closed and the adjustments booked to the party since (its lines are the frozen charges). */
  readonly closed?: { readonly at: number; readonly adjustments: readonly StatementAdjustment[] } | null;
}

/** A ledger adjustment on a printed statement. */
export interface StatementAdjustment {
  readonly id: number;
  readonly corrects: number | null;
  readonly resourceClass: string;
  readonly amountMinor: number;
  readonly reason: string;
  readonly createdAt: number;
}

/** A name in the page's language first, the other one beside it. Escaped. */
export function displayName(n: Names, lang: Lang): string {
  if (!n.nameZh || n.nameZh === n.name) return esc(n.name);
  return lang === 'zh-CN' ? `${esc(n.nameZh)}（${esc(n.name)}）` : `${esc(n.name)} (${esc(n.nameZh)})`;
}

function lineRow(l: StatementLine, p: StatementPrint, team: boolean): string {
  const { lang } = p;
  const cur = p.statement.currency;
  const money = (m: number) => esc(formatMoney(m, cur, lang));
  const qty = (q: number) => esc(formatQuantity(q, l.quantityUnit, lang));
  const notes: string[] = [];
  if (l.startingFeeMinor > 0) notes.push(esc(msg(lang, 'fee.starting', { fee: formatMoney(l.startingFeeMinor, cur, lang) })));
  if (l.capApplied) notes.push(esc(msg(lang, l.capApplied === 'daily' ? 'cap.daily' : 'cap.monthly')));
  const member = p.members[l.memberId];
  const cells = [
    `<td>${esc(l.date)}</td>`,
    team ? `<td>${member ? `${displayName(member, lang)}<span class="sub">${esc(member.memberNo)}</span>` : esc(l.memberId)}</td>` : '',
    `<td>${esc(resourceLabel(l.resourceClass, lang))}</td>`,
    `<td class="num">${qty(l.quantity)}</td>`,
    `<td class="num">${qty(l.freeQuantity)}</td>`,
    `<td class="num">${qty(l.grantedQuantity)}</td>`,
    `<td class="num">${qty(l.chargedQuantity)}</td>`,
    `<td class="num">${esc(formatUnitPrice(l.unitPriceMinor, l.quantityUnit, cur, lang))}</td>`,
    `<td class="num">${money(l.amountMinor)}${notes.map((n) => `<span class="sub">${n}</span>`).join('')}</td>`,
    `<td class="num">${money(l.referenceMinor)}</td>`,
    `<td class="num">${money(l.subsidyMinor)}</td>`,
  ];
  return `<tr>${cells.join('')}</tr>`;
}

/** The adjustments booked after closing, and what is due after them; nothing for an open month or when there are none. */
function adjustmentsTable(p: StatementPrint): string {
  const adjustments = p.closed?.adjustments ?? [];
  if (adjustments.length === 0) return '';
  const { lang } = p;
  const cur = p.statement.currency;
  const money = (m: number) => esc(formatMoney(m, cur, lang));
  const rows = adjustments.map(
    (a) => `<tr><td>${esc(localDate(a.createdAt, p.site.timezone))}</td><td>${esc(resourceLabel(a.resourceClass, lang))}</td><td>${esc(a.reason)}</td><td class="num">${money(a.amountMinor)}</td></tr>`,
  );
  const due = p.statement.totals.amountMinor + adjustments.reduce((n, a) => n + a.amountMinor, 0);
  return `<h2>${esc(msg(lang, 'adjust.heading'))}</h2>
<table class="lines adjustments">
<thead><tr><th>${esc(msg(lang, 'col.recorded'))}</th><th>${esc(msg(lang, 'col.resource'))}</th><th>${esc(msg(lang, 'col.reason'))}</th><th class="num">${esc(msg(lang, 'col.amount'))}</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
<tfoot><tr><td colspan="3">${esc(msg(lang, 'row.balance'))}</td><td class="num" data-total="due">${money(due)}</td></tr></tfoot>
</table>`;
}

export function renderStatement(p: StatementPrint): string {
  const { lang, statement: st } = p;
  const team = st.party.kind === 'team';
  const money = (m: number) => esc(formatMoney(m, st.currency, lang));
  const heading = msg(lang, 'statement.heading', { month: p.month });
  const party = p.party.names ? displayName(p.party.names, lang) : esc(st.party.id);
  const meta: [string, string][] = [
    [msg(lang, 'field.site'), displayName(p.site, lang)],
    [msg(lang, 'field.party'), msg(lang, 'field.labelled', { label: esc(msg(lang, team ? 'field.partyKind.team' : 'field.partyKind.member')), value: `<span data-field="party">${party}</span>` })],
    ...(p.party.memberNo !== null ? [[msg(lang, 'field.memberNo'), esc(p.party.memberNo)] as [string, string]] : []),
    [msg(lang, 'field.period'), `${esc(p.month)} <span class="sub">${esc(msg(lang, 'field.periodRange', { from: localDate(st.from, p.site.timezone), to: localDate(st.to - 1, p.site.timezone) }))}</span>`],
    [msg(lang, 'field.currency'), esc(st.currency)],
    [msg(lang, 'field.rateCard'), esc(msg(lang, 'field.rateCardNo', { id: String(p.rateCardId) }))],
    [
      msg(lang, 'field.status'),
      `<span data-field="status" data-closed="${p.closed ? 'yes' : 'no'}">${esc(p.closed ? msg(lang, 'statement.closed', { at: localDateTime(p.closed.at, p.site.timezone, lang) }) : msg(lang, 'statement.provisional'))}</span>`,
    ],
  ];
  const heads = ['col.date', ...(team ? (['col.member'] as const) : []), 'col.resource', 'col.quantity', 'col.free', 'col.granted', 'col.charged', 'col.unitPrice', 'col.amount', 'col.reference', 'col.subsidy'] as const;
  const numeric = new Set<string>(['col.quantity', 'col.free', 'col.granted', 'col.charged', 'col.unitPrice', 'col.amount', 'col.reference', 'col.subsidy']);
  const lead = heads.length - 3;
  const body = st.lines.length === 0 ? `<tr><td colspan="${heads.length}">${esc(msg(lang, 'statement.empty'))}</td></tr>` : st.lines.map((l) => lineRow(l, p, team)).join('\n');
  return htmlPage(
    lang,
    `${msg(lang, 'statement.title')} ${p.month} ${p.party.names?.name ?? st.party.id}`,
    `<header>
<h1>${esc(heading)}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('\n')}
</dl>
</header>
<table class="lines">
<thead><tr>${heads.map((h) => `<th${numeric.has(h) ? ' class="num"' : ''}>${esc(msg(lang, h))}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
<tfoot><tr><td colspan="${lead}">${esc(msg(lang, 'row.total'))}</td><td class="num" data-total="amount">${money(st.totals.amountMinor)}</td><td class="num" data-total="reference">${money(st.totals.referenceMinor)}</td><td class="num" data-total="subsidy">${money(st.totals.subsidyMinor)}</td></tr></tfoot>
</table>
${adjustmentsTable(p)}
<p class="note">${esc(msg(lang, 'statement.note'))}${team ? `${lang === 'zh-CN' ? '' : ' '}${esc(msg(lang, 'statement.noteTeam'))}` : ''}</p>
<footer>${msg(lang, 'field.labelled', { label: esc(msg(lang, 'field.generated')), value: esc(localDateTime(p.generatedAt, p.site.timezone, lang)) })}</footer>`,
  );
}
