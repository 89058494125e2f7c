/**
 * Charts as SVG strings, rendered on the server into the report and the web
 * page: utilisation by hour of week (heat map), occupancy over the period
 * (line with area), Kaplan–Meier survival by cohort (step curves with
 * censoring ticks), and the served-entrepreneur trend (bars).
 *
 * Each chart is a pure function of its data and its labels (given in, so a
 * chart is zh-CN or English as the caller asks). Output is deterministic:
 * fixed geometry, numbers printed to at most 2 decimals, no ids from a
 * counter. Every text is escaped. Accessible: role="img" with <title> and
 * <desc> referenced by aria-labelledby, and a <title> on each mark giving its
 * value. No external fonts, scripts or styles: a generic font family only.
 */
import { milestoneDays, type KmCurve } from './survival.js';

export interface ChartText {
  readonly title: string;
  readonly desc: string;
}

export interface ChartOptions {
  /** Prefix of the element ids (title, desc), so several charts can share a page; [A-Za-z0-9_-] kept. Default 'chart'. */
  readonly idPrefix?: string;
}

/** Escapes text for SVG/XML element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;'));
}

/** A number for coordinates and labels: at most 2 decimals, no '-0'. */
export function num(x: number): string {
  const r = Math.round(x * 100) / 100;
  return String(r === 0 ? 0 : r);
}

/** A ratio as a percentage with one decimal ('45.5%'); '–' for null. */
export function percent(x: number | null): string {
  return x === null ? '–' : `${num(Math.round(x * 1000) / 10)}%`;
}

const FONT = 'font-family="sans-serif"';
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'] as const;
const colour = (i: number): string => PALETTE[i % PALETTE.length]!;

function frame(width: number, height: number, text: ChartText, opts: ChartOptions | undefined, body: string[]): string {
  const id = (opts?.idPrefix ?? 'chart').replace(/[^A-Za-z0-9_-]/g, '') || 'chart';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-labelledby="${id}-title ${id}-desc" ${FONT} font-size="11">`,
    `<title id="${id}-title">${escapeXml(text.title)}</title>`,
    `<desc id="${id}-desc">${escapeXml(text.desc)}</desc>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(text.title)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function textEl(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${num(x)}" y="${num(y)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(s)}</text>`;
}

/** White to dark blue by value in [0, 1]. */
function heat(v: number): string {
  const t = Math.min(1, Math.max(0, v));
  const ch = (a: number, b: number): string => Math.round(a + (b - a) * t).toString(16).padStart(2, '0');
  return `#${ch(0xf7, 0x08)}${ch(0xfb, 0x30)}${ch(0xff, 0x6b)}`;
}

// ---------------------------------------------------------------------------
// Heat map: utilisation by hour of week

export interface HeatmapLabels extends ChartText {
  /** Monday first, 7 names. */
  readonly weekdays: readonly string[];
  /** Shown on cells never available (closed, unknown). */
  readonly noData: string;
}

/** 7 × 24 cells: `{ weekday: 1–7, hour: 0–23, value: 0–1 | null }` (core/evaluation/utilisation.ts hourOfWeekGrid). */
export function heatmapChart(cells: readonly { readonly weekday: number; readonly hour: number; readonly value: number | null }[], labels: HeatmapLabels, opts?: ChartOptions): string {
  if (labels.weekdays.length !== 7) throw new RangeError('heatmapChart needs 7 weekday labels, Monday first');
  const cw = 22;
  const ch = 20;
  const left = 70;
  const top = 44;
  const width = left + 24 * cw + 20;
  const height = top + 7 * ch + 50;
  const grid = new Map<number, number | null>();
  for (const c of cells) if (c.weekday >= 1 && c.weekday <= 7 && c.hour >= 0 && c.hour <= 23) grid.set((c.weekday - 1) * 24 + c.hour, c.value);
  const body: string[] = [];
  for (let h = 0; h < 24; h += 3) body.push(textEl(left + h * cw + cw / 2, top - 6, `${String(h).padStart(2, '0')}:00`, 'text-anchor="middle"'));
  for (let d = 0; d < 7; d++) {
    body.push(textEl(left - 6, top + d * ch + ch / 2 + 4, labels.weekdays[d]!, 'text-anchor="end"'));
    for (let h = 0; h < 24; h++) {
      const v = grid.get(d * 24 + h) ?? null;
      const tip = `${labels.weekdays[d]!} ${String(h).padStart(2, '0')}:00 ${v === null ? labels.noData : percent(v)}`;
      const fill = v === null ? '#d9d9d9' : heat(v);
      body.push(`<rect x="${left + h * cw}" y="${top + d * ch}" width="${cw - 1}" height="${ch - 1}" fill="${fill}"><title>${escapeXml(tip)}</title></rect>`);
    }
  }
  // Legend: 0 %, 50 %, 100 %, and no data.
  const ly = top + 7 * ch + 18;
  [0, 0.5, 1].forEach((v, i) => {
    body.push(`<rect x="${left + i * 70}" y="${ly}" width="14" height="14" fill="${heat(v)}" stroke="#999999"/>`);
    body.push(textEl(left + i * 70 + 18, ly + 11, percent(v)));
  });
  body.push(`<rect x="${left + 210}" y="${ly}" width="14" height="14" fill="#d9d9d9"/>`);
  body.push(textEl(left + 228, ly + 11, labels.noData));
  return frame(width, height, labels, opts, body);
}

// ---------------------------------------------------------------------------
// Axes shared by the line, bar and survival charts

interface Plot {
  readonly left: number;
  readonly top: number;
  readonly w: number;
  readonly h: number;
}

const PLOT: Plot = { left: 56, top: 34, w: 560, h: 220 };
const WIDTH = PLOT.left + PLOT.w + 24;
const HEIGHT = PLOT.top + PLOT.h + 60;

function yAxis(p: Plot, max: number, fmt: (v: number) => string, label: string | undefined): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const y = p.top + p.h - (p.h * i) / 4;
    out.push(`<line x1="${p.left}" y1="${num(y)}" x2="${p.left + p.w}" y2="${num(y)}" stroke="#e5e5e5"/>`);
    out.push(textEl(p.left - 6, y + 4, fmt(v), 'text-anchor="end"'));
  }
  out.push(`<line x1="${p.left}" y1="${p.top}" x2="${p.left}" y2="${p.top + p.h}" stroke="#333333"/>`);
  out.push(`<line x1="${p.left}" y1="${p.top + p.h}" x2="${p.left + p.w}" y2="${p.top + p.h}" stroke="#333333"/>`);
  if (label) out.push(textEl(14, p.top + p.h / 2, label, `text-anchor="middle" transform="rotate(-90 14 ${num(p.top + p.h / 2)})"`));
  return out;
}

/** Up to `max` label positions over n points, evenly stepped from the first. */
function labelIndices(n: number, max: number): number[] {
  const step = Math.max(1, Math.ceil(n / Math.max(1, max)));
  const out: number[] = [];
  for (let i = 0; i < n; i += step) out.push(i);
  return out;
}

/** A "nice" upper bound ≥ v for a count axis: 1, 2, 5 × 10^k. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ---------------------------------------------------------------------------
// Line with area: occupancy over the period

export interface LineLabels extends ChartText {
  readonly yLabel?: string;
  /** Shown in the mark's tooltip for a point without a value. */
  readonly noData: string;
}

/** Ratios (0–1) per bucket, in order; null breaks the line (unknown or closed). */
export function occupancyChart(points: readonly { readonly label: string; readonly value: number | null }[], labels: LineLabels, opts?: ChartOptions): string {
  const p = PLOT;
  const body = yAxis(p, 1, percent, labels.yLabel);
  const n = points.length;
  const x = (i: number): number => (n <= 1 ? p.left + p.w / 2 : p.left + (p.w * i) / (n - 1));
  const y = (v: number): number => p.top + p.h - p.h * Math.min(1, Math.max(0, v));
  // Runs of consecutive points with a value: one area and one line each.
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    const pts = run.map((i) => `${num(x(i))},${num(y(points[i]!.value!))}`);
    const base = p.top + p.h;
    body.push(`<polygon points="${num(x(run[0]!))},${base} ${pts.join(' ')} ${num(x(run[run.length - 1]!))},${base}" fill="#1f77b4" fill-opacity="0.2" stroke="none"/>`);
    body.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
    run = [];
  };
  points.forEach((pt, i) => {
    if (pt.value === null) flush();
    else run.push(i);
  });
  flush();
  points.forEach((pt, i) => {
    if (pt.value !== null) body.push(`<circle cx="${num(x(i))}" cy="${num(y(pt.value))}" r="2.5" fill="#1f77b4"><title>${escapeXml(`${pt.label} ${percent(pt.value)}`)}</title></circle>`);
  });
  for (const i of labelIndices(n, 8)) body.push(textEl(x(i), p.top + p.h + 16, points[i]!.label, 'text-anchor="middle"'));
  if (n === 0 || points.every((pt) => pt.value === null)) body.push(textEl(p.left + p.w / 2, p.top + p.h / 2, labels.noData, 'text-anchor="middle" fill="#666666"'));
  return frame(WIDTH, HEIGHT, labels, opts, body);
}

// ---------------------------------------------------------------------------
// Bars: served-entrepreneur trend

export interface BarLabels extends ChartText {
  readonly yLabel?: string;
  readonly noData: string;
}

/** One bar per period, in order (e.g. entrepreneurs served per month); null: no figure (drawn as '–'). */
export function barChart(bars: readonly { readonly label: string; readonly value: number | null }[], labels: BarLabels, opts?: ChartOptions): string {
  const p = PLOT;
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value ?? 0)));
  const body = yAxis(p, max, num, labels.yLabel);
  const n = bars.length;
  const slot = n > 0 ? p.w / n : p.w;
  const bw = Math.max(2, slot * 0.7);
  // About 64 px per label, so 'YYYY-MM' labels do not run into each other.
  const shown = new Set(labelIndices(n, Math.max(2, Math.floor(p.w / 64))));
  bars.forEach((b, i) => {
    const cx = p.left + slot * i + slot / 2;
    const v = b.value;
    if (v !== null) {
      const bh = (p.h * Math.max(0, v)) / max;
      body.push(`<rect x="${num(cx - bw / 2)}" y="${num(p.top + p.h - bh)}" width="${num(bw)}" height="${num(bh)}" fill="#2ca02c"><title>${escapeXml(`${b.label}: ${num(v)}`)}</title></rect>`);
      if (n <= 24) body.push(textEl(cx, p.top + p.h - bh - 4, num(v), 'text-anchor="middle"'));
    } else {
      body.push(textEl(cx, p.top + p.h - 4, '–', 'text-anchor="middle" fill="#666666"'));
    }
    if (shown.has(i)) body.push(textEl(cx, p.top + p.h + 16, b.label, 'text-anchor="middle"'));
  });
  if (n === 0) body.push(textEl(p.left + p.w / 2, p.top + p.h / 2, labels.noData, 'text-anchor="middle" fill="#666666"'));
  return frame(WIDTH, HEIGHT, labels, opts, body);
}

// ---------------------------------------------------------------------------
// Kaplan–Meier curves by cohort

export interface SurvivalLabels extends ChartText {
  /** Axis titles, e.g. 'Months since admission' / '入驻后月数'. */
  readonly xLabel: string;
  readonly yLabel: string;
  /** Legend entry of the censoring tick ('censored' / '删失'). */
  readonly censored: string;
  readonly noData: string;
}

/**
 * Step curves S(t), one per cohort, with a tick where teams were censored,
 * over months since admission (x) up to `maxMonths` (default 36), with dashed
 * lines at the milestones.
 */
export function survivalChart(
  curves: readonly { readonly label: string; readonly curve: KmCurve }[],
  labels: SurvivalLabels,
  opts?: ChartOptions & { readonly maxMonths?: number; readonly milestonesMonths?: readonly number[] },
): string {
  const p = { ...PLOT, h: PLOT.h - 10 };
  const maxMonths = opts?.maxMonths ?? 36;
  const maxDays = milestoneDays(maxMonths);
  const body = yAxis(p, 1, percent, labels.yLabel);
  const x = (days: number): number => p.left + (p.w * Math.min(days, maxDays)) / maxDays;
  const y = (s: number): number => p.top + p.h - p.h * s;
  for (const m of opts?.milestonesMonths ?? [6, 12, 24, 36]) {
    if (m > maxMonths) continue;
    const mx = x(milestoneDays(m));
    body.push(`<line x1="${num(mx)}" y1="${p.top}" x2="${num(mx)}" y2="${p.top + p.h}" stroke="#bbbbbb" stroke-dasharray="4 3"/>`);
    body.push(textEl(mx, p.top + p.h + 14, String(m), 'text-anchor="middle"'));
  }
  body.push(textEl(p.left + p.w / 2, p.top + p.h + 30, labels.xLabel, 'text-anchor="middle"'));
  const legend: { colour: string; text: string }[] = [];
  curves.forEach(({ label, curve }, ci) => {
    const c = colour(ci);
    let s = 1;
    let d = `M${num(x(0))},${num(y(1))}`;
    let last = 0;
    const ticks: string[] = [];
    for (const st of curve.steps) {
      if (st.time > maxDays) break;
      if (st.events > 0) {
        d += ` H${num(x(st.time))} V${num(y(st.survival))}`;
        s = st.survival;
      }
      if (st.censored > 0) ticks.push(`<line x1="${num(x(st.time))}" y1="${num(y(s) - 4)}" x2="${num(x(st.time))}" y2="${num(y(s) + 4)}" stroke="${c}" stroke-width="1.5"><title>${escapeXml(`${label}: ${labels.censored} ${st.censored}`)}</title></line>`);
      last = st.time;
    }
    // The curve ends at the last follow-up time (beyond it the estimate is undefined).
    d += ` H${num(x(last))}`;
    if (curve.subjects > 0) body.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="2"><title>${escapeXml(`${label} (n = ${curve.subjects})`)}</title></path>`, ...ticks);
    legend.push({ colour: c, text: `${label} (n = ${curve.subjects})` });
  });
  // The legend sits at the bottom left, on a white box: survival curves start at the top and fall to the right,
  // so that corner is the last a curve reaches.
  const rows = legend.length + 1;
  const lx = p.left + 8;
  const top = p.top + p.h - 8 - rows * 16;
  const widest = Math.max(labels.censored.length, ...legend.map((l) => l.text.length));
  body.push(`<rect x="${lx - 4}" y="${top - 4}" width="${num(32 + widest * 7)}" height="${rows * 16 + 6}" fill="#ffffff" fill-opacity="0.85" stroke="#dddddd"/>`);
  legend.forEach((l, i) => {
    const ly = top + 8 + i * 16;
    body.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 20}" y2="${ly}" stroke="${l.colour}" stroke-width="2"/>`);
    body.push(textEl(lx + 24, ly + 4, l.text));
  });
  const ly = top + 8 + legend.length * 16;
  body.push(`<line x1="${lx + 10}" y1="${ly - 4}" x2="${lx + 10}" y2="${ly + 4}" stroke="#333333" stroke-width="1.5"/>`);
  body.push(textEl(lx + 24, ly + 4, labels.censored));
  if (curves.every((c) => c.curve.subjects === 0)) body.push(textEl(p.left + p.w / 2, p.top + p.h / 2, labels.noData, 'text-anchor="middle" fill="#666666"'));
  return frame(WIDTH, HEIGHT, labels, opts, body);
}
