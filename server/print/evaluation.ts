/**
 * The periodic statistics report as a printable HTML page (docs/indicators.md,
 * "Server: API and report"): every indicator with this period's value, the
 * previous period's, the change and the evidence count, the exits by reason,
 * and four server-side SVG charts (core/evaluation/charts.ts). Pure: the
 * report as the core computed it, the chart data, names, the clock's reading
 * and the language in; markup out, every value escaped. The page shell and
 * the formatting are the statement's (page.ts, format.ts).
 */
import { INDICATOR_BY_ID, type IndicatorGroup, type IndicatorUnit } from '../../core/evaluation/catalogue.js';
import { barChart, heatmapChart, occupancyChart, survivalChart } from '../../core/evaluation/charts.js';
import type { EvaluationReport, ReportRow } from '../../core/evaluation/report.js';
import { UNSPECIFIED_REASON } from '../../core/evaluation/teams.js';
import { emsg, groupKey, nullKey, periodKey, type EvaluationMessageKey } from './evaluation-messages.js';
import { esc, formatMoney, formatNumber, localDate, localDateTime } from './format.js';
import { msg, type Lang } from './messages.js';
import { htmlPage } from './page.js';
import { displayName, type Names } from './statement.js';

export interface ChartPoint {
  readonly label: string;
  readonly value: number | null;
}

export interface EvaluationPrint {
  readonly lang: Lang;
  readonly sites: readonly (Names & { readonly id: string })[];
  readonly report: EvaluationReport;
  /** Money figures (value given away, investment raised) are shown in this currency. */
  readonly currency: string;
  /** 7 × 24 cells of desk utilisation by hour of week (weekday 1 = Monday). */
  readonly heatmap: readonly { readonly weekday: number; readonly hour: number; readonly value: number | null }[];
  readonly occupancy: readonly ChartPoint[];
  readonly occupancyBucket: 'day' | 'week';
  /** Entrepreneurs served per month; null for months not begun. */
  readonly trend: readonly ChartPoint[];
  /** Set when the period has not ended: measured up to this instant. */
  readonly measuredTo: number | null;
  readonly generatedAt: number;
}

const EXTRA_STYLE = `
table.indicators td.name { width: 40%; }
tr.group th { background: #e4ecf5; text-align: left; }
figure.chart { margin: 16px 0; break-inside: avoid; page-break-inside: avoid; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
h2 { font-size: 16px; margin: 20px 0 8px; }
.null { color: #777; }
@media print { h2 { font-size: 12pt; break-after: avoid; } .charts { break-before: page; } }
`;

/** A value as the page shows it, by the indicator's unit. */
export function formatValue(value: number, unit: IndicatorUnit, lang: Lang, currency: string): string {
  switch (unit) {
    case 'ratio':
      return `${formatNumber(value * 100, lang, 2)}%`;
    case 'money-minor':
      return formatMoney(value, currency, lang);
    case 'hours':
      return msg(lang, 'unit.hour', { n: formatNumber(value, lang, 2) });
    case 'people':
    case 'teams':
    case 'enterprises':
    case 'deliveries':
    case 'workstations':
    case 'bookings':
      return formatNumber(value, lang, 0);
  }
}

function changeText(r: ReportRow, lang: Lang, currency: string): string {
  const c = r.change;
  if (c.absolute === null) return `<span class="null">${esc(c.nullReason ? emsg(lang, nullKey(c.nullReason)) : '–')}</span>`;
  const sign = c.absolute > 0 ? '+' : c.absolute < 0 ? '−' : '±';
  const abs = Math.abs(c.absolute);
  const absolute = r.unit === 'ratio' ? emsg(lang, 'change.points', { n: formatNumber(abs * 100, lang, 2) }) : formatValue(abs, r.unit, lang, currency);
  const relative = c.relative === null ? '' : ` (${c.relative > 0 ? '+' : c.relative < 0 ? '−' : '±'}${formatNumber(Math.abs(c.relative) * 100, lang, 2)}%)`;
  return esc(`${sign}${absolute}${relative}`);
}

function cell(value: number | null, nullReason: ReportRow['nullReason'] | null, unit: IndicatorUnit, lang: Lang, currency: string, field: string): string {
  if (value === null) return `<td class="num" data-field="${field}" data-value=""><span class="null">${esc(nullReason ? emsg(lang, nullKey(nullReason)) : '–')}</span></td>`;
  return `<td class="num" data-field="${field}" data-value="${esc(value)}">${esc(formatValue(value, unit, lang, currency))}</td>`;
}

function indicatorRows(p: EvaluationPrint): string {
  const { lang, currency } = p;
  const other: Lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
  const out: string[] = [];
  let group: IndicatorGroup | null = null;
  for (const r of p.report.total.rows) {
    const def = INDICATOR_BY_ID.get(r.id);
    if (def && def.group !== group) {
      group = def.group;
      out.push(`<tr class="group"><th colspan="5">${esc(emsg(lang, groupKey(group)))}</th></tr>`);
    }
    const name = lang === 'zh-CN' ? r.nameZh : r.nameEn;
    const second = other === 'zh-CN' ? r.nameZh : r.nameEn;
    out.push(
      [
        `<tr data-indicator="${esc(r.id)}">`,
        `<td class="name">${esc(name)}<span class="sub">${esc(second)}</span></td>`,
        cell(r.value, r.nullReason, r.unit, lang, currency, 'value'),
        cell(r.previous, null, r.unit, lang, currency, 'previous'),
        `<td class="num" data-field="change">${changeText(r, lang, currency)}</td>`,
        `<td class="num" data-field="evidence" data-value="${esc(r.evidence)}">${esc(formatNumber(r.evidence, lang, 0))}</td>`,
        '</tr>',
      ].join(''),
    );
  }
  return out.join('\n');
}

function exitsSection(p: EvaluationPrint): string {
  const { lang } = p;
  const flows = p.report.total.details.teams;
  const reasons = flows?.exitReasons ?? [];
  const rows = reasons.map(
    (r) => `<tr data-exit-reason><td>${esc(r.reason === UNSPECIFIED_REASON ? emsg(lang, 'exits.unspecified') : r.reason)}</td><td class="num">${esc(formatNumber(r.count, lang, 0))}</td></tr>`,
  );
  const undated = flows && flows.undatedDepartures.length > 0 ? `<p class="note">${esc(emsg(lang, 'exits.undated', { teams: flows.undatedDepartures.join(', ') }))}</p>` : '';
  return `<h2>${esc(emsg(lang, 'exits.heading'))}</h2>
${
  rows.length > 0
    ? `<table class="exits"><thead><tr><th>${esc(emsg(lang, 'col.reason'))}</th><th class="num">${esc(emsg(lang, 'col.teams'))}</th></tr></thead><tbody>
${rows.join('\n')}
</tbody></table>`
    : `<p>${esc(emsg(lang, 'exits.none'))}</p>`
}${undated}`;
}

function charts(p: EvaluationPrint): string {
  const { lang } = p;
  const m = (k: EvaluationMessageKey, vars?: Record<string, string>) => emsg(lang, k, vars);
  const weekdays = [1, 2, 3, 4, 5, 6, 7].map((d) => m(`weekday.${d}` as EvaluationMessageKey));
  const noData = m('chart.noData');
  const heat = heatmapChart(p.heatmap, { title: m('chart.heatmap.title'), desc: m('chart.heatmap.desc'), weekdays, noData }, { idPrefix: 'heatmap' });
  const occ = occupancyChart(p.occupancy, { title: m('chart.occupancy.title'), desc: m('chart.occupancy.desc', { bucket: m(`bucket.${p.occupancyBucket}`) }), yLabel: m('chart.occupancy.y'), noData }, { idPrefix: 'occupancy' });
  const surv = p.report.total.details.survival;
  const curves = surv ? [{ label: m('chart.survival.all'), curve: surv.all }, ...surv.cohorts.map((c) => ({ label: c.cohort, curve: c.curve }))] : [];
  const km = survivalChart(curves, { title: m('chart.survival.title'), desc: m('chart.survival.desc'), xLabel: m('chart.survival.x'), yLabel: m('chart.survival.y'), censored: m('chart.survival.censored'), noData }, { idPrefix: 'survival' });
  const trend = barChart(p.trend, { title: m('chart.trend.title'), desc: m('chart.trend.desc'), yLabel: m('chart.trend.y'), noData }, { idPrefix: 'trend' });
  const fig = (name: string, svg: string) => `<figure class="chart" data-chart="${name}">\n${svg}\n</figure>`;
  return `<section class="charts">
<h2>${esc(m('charts.heading'))}</h2>
${fig('heatmap', heat)}
${fig('occupancy', occ)}
${fig('survival', km)}
${fig('trend', trend)}
</section>`;
}

export function renderEvaluation(p: EvaluationPrint): string {
  const { lang, report } = p;
  const tz = report.period.timezone;
  const periodName = (k: typeof report.period) => emsg(lang, periodKey(k.kind), { key: k.key });
  // The period's last local date is the day before its end.
  const range = (k: typeof report.period) => emsg(lang, 'field.range', { from: localDate(k.from, tz), to: localDate(k.to - 1, tz) });
  const meta: [string, string][] = [
    [emsg(lang, 'field.sites'), p.sites.map((s) => displayName(s, lang)).join(lang === 'zh-CN' ? '、' : ', ')],
    [emsg(lang, 'field.period'), esc(emsg(lang, 'field.periodRange', { period: periodName(report.period), range: range(report.period) }))],
    [emsg(lang, 'field.previous'), esc(emsg(lang, 'field.periodRange', { period: periodName(report.previous), range: range(report.previous) }))],
    [emsg(lang, 'field.timezone'), esc(tz)],
  ];
  const heads: EvaluationMessageKey[] = ['col.indicator', 'col.value', 'col.previous', 'col.change', 'col.evidence'];
  const title = `${emsg(lang, 'report.title')} ${report.period.key} ${p.sites.map((s) => s.name).join(', ')}`;
  return htmlPage(
    lang,
    title,
    `<style>${EXTRA_STYLE}</style>
<header>
<h1>${esc(emsg(lang, 'report.heading', { period: periodName(report.period) }))}</h1>
<dl class="meta">
${meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('\n')}
</dl>
${p.measuredTo !== null ? `<p class="note" data-in-progress>${esc(emsg(lang, 'field.inProgress', { at: localDateTime(p.measuredTo, tz, lang) }))}</p>` : ''}
</header>
<table class="indicators">
<thead><tr>${heads.map((h, i) => `<th${i === 0 ? '' : ' class="num"'}>${esc(emsg(lang, h))}</th>`).join('')}</tr></thead>
<tbody>
${indicatorRows(p)}
</tbody>
</table>
<p class="note">${esc(emsg(lang, 'note.definitions'))} ${esc(emsg(lang, 'note.workstations'))}</p>
${exitsSection(p)}
${charts(p)}
<footer>${esc(emsg(lang, 'field.labelled', { label: emsg(lang, 'field.generated'), value: localDateTime(p.generatedAt, tz, lang) }))}</footer>`,
  );
}
