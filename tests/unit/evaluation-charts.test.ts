/**
 * core/evaluation/charts.ts: every chart is well-formed SVG (balanced tags,
 * quoted attributes, no raw markup in text), escapes hostile labels, carries
 * title and desc for assistive technology, shows zh-CN labels as given, and
 * is deterministic (the same input gives the same bytes).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, heatmapChart, num, occupancyChart, percent, survivalChart } from '../../core/evaluation/charts.js';
import { report } from '../../core/evaluation/report.js';
import { kaplanMeier } from '../../core/evaluation/survival.js';

/** A small XML well-formedness check: tags balance, attributes are quoted, text has no raw '<' or bare '&'. Returns the problem or null. */
function xmlProblem(svg: string): string | null {
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = tag.exec(svg)) !== null) {
    const text = svg.slice(last, m.index);
    if (/[<>]/.test(text)) return `raw markup in text: ${text.slice(0, 60)}`;
    if (/&(?!(amp|lt|gt|quot|#39);)/.test(text)) return `bare & in text: ${text.slice(0, 60)}`;
    last = tag.lastIndex;
    const [, close, name, , self] = m;
    if (close) {
      if (stack.pop() !== name) return `unbalanced </${name}>`;
    } else if (!self) stack.push(name!);
  }
  if (/[<>]/.test(svg.slice(last))) return 'trailing markup';
  if (stack.length > 0) return `unclosed <${stack.join('>, <')}>`;
  return null;
}

const HOSTILE = `<script>alert("x")</script> & 'y' ]]>`;
const CELLS = Array.from({ length: 168 }, (_, i) => ({ weekday: Math.floor(i / 24) + 1, hour: i % 24, value: i % 24 < 8 ? null : ((i * 7) % 100) / 100 }));
const KM = kaplanMeier([
  { id: 'a', time: 30, event: true },
  { id: 'b', time: 45, event: false },
  { id: 'c', time: 400, event: true },
  { id: 'd', time: 800, event: false },
]);

const charts = (label: string): string[] => [
  heatmapChart(CELLS, { title: label, desc: label, weekdays: ['一', '二', '三', '四', '五', '六', label], noData: label }, { idPrefix: 'heat' }),
  occupancyChart(
    [
      { label: '11-01', value: 0.5 },
      { label, value: null },
      { label: '11-03', value: 0.7 },
      { label: '11-04', value: 0.65 },
    ],
    { title: label, desc: label, yLabel: label, noData: label },
  ),
  barChart(
    [
      { label, value: 12 },
      { label: '2026-10', value: null },
      { label: '2026-11', value: 30 },
    ],
    { title: label, desc: label, yLabel: label, noData: label },
  ),
  survivalChart([{ label, curve: KM }], { title: label, desc: label, xLabel: label, yLabel: label, censored: label, noData: label }),
];

describe('charts', () => {
  it('are well-formed SVG with a viewBox, role img, and title and desc named by aria-labelledby', () => {
    for (const svg of charts('Occupancy')) {
      expect(xmlProblem(svg)).toBeNull();
      expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
      const ids = /aria-labelledby="([\w-]+) ([\w-]+)"/.exec(svg)!;
      expect(svg).toContain(`<title id="${ids[1]}">Occupancy</title>`);
      expect(svg).toContain(`<desc id="${ids[2]}">Occupancy</desc>`);
      // Nothing fetched: no external references, scripts or web fonts.
      expect(svg).not.toMatch(/href=|<script|@import|url\(/);
    }
  });

  it('escape hostile labels everywhere', () => {
    for (const svg of charts(HOSTILE)) {
      expect(xmlProblem(svg)).toBeNull();
      expect(svg).not.toContain('<script>');
      expect(svg).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39; ]]&gt;');
    }
    expect(heatmapChart(CELLS, { title: 't', desc: 'd', weekdays: ['1', '2', '3', '4', '5', '6', '7'], noData: '-' }, { idPrefix: '"><x' })).toContain('aria-labelledby="x-title x-desc"');
  });

  it('show zh-CN labels as given', () => {
    const svg = survivalChart([{ label: '2025 届', curve: KM }], { title: '初创企业存活率', desc: '按入驻年份', xLabel: '入驻后月数', yLabel: '存活率', censored: '删失', noData: '无数据' });
    for (const s of ['初创企业存活率', '入驻后月数', '删失', '2025 届 (n = 4)']) expect(svg).toContain(s);
  });

  const text = fc.string().filter((t) => !t.includes('NaN'));

  it('are deterministic', () => {
    expect(charts('x')).toEqual(charts('x'));
    fc.assert(
      // Texts that cannot spell NaN themselves (a random label once did, and failed the check below).
      fc.property(fc.array(fc.record({ label: text, value: fc.option(fc.double({ min: 0, max: 1, noNaN: true })) }), { maxLength: 40 }), text, (points, title) => {
        const a = occupancyChart(points, { title, desc: title, noData: '–' });
        expect(occupancyChart(points, { title, desc: title, noData: '–' })).toBe(a);
        expect(xmlProblem(a)).toBeNull();
        expect(a).not.toContain('NaN');
      }),
    );
  });

  it('heat map: 168 cells, closed hours grey with the no-data label, values as percentages', () => {
    const svg = charts('x')[0]!;
    expect(svg.match(/<rect x="\d+" y="\d+" width="21" height="19"/g)).toHaveLength(168);
    expect(svg).toContain('<title>一 00:00 x</title>');
    // Monday 08:00 is cell 8: (8 × 7) % 100 / 100 = 0.56.
    expect(svg).toContain('<title>一 08:00 56%</title>');
  });

  it('survival: a step down at each exit and a tick at each censoring within the range', () => {
    const svg = charts('x')[3]!;
    // 4 teams: exits at 30 (S = 0.75) and 400 (S = 0.75 × 1/2 = 0.375); censored at 45 and 800.
    expect(KM.steps.map((s) => s.survival)).toEqual([0.75, 0.75, 0.375, 0.375]);
    expect(svg.match(/<line [^>]*stroke-width="1\.5"><title>x: x 1<\/title>/g)).toHaveLength(2);
    const path = /<path d="([^"]+)"/.exec(svg)![1]!;
    expect(path.match(/V/g)).toHaveLength(2);
  });

  it('empty data say so instead of drawing nothing', () => {
    expect(occupancyChart([], { title: 't', desc: 'd', noData: 'no data' })).toContain('>no data</text>');
    expect(barChart([], { title: 't', desc: 'd', noData: 'no data' })).toContain('>no data</text>');
    expect(survivalChart([{ label: 'all', curve: kaplanMeier([]) }], { title: 't', desc: 'd', xLabel: 'm', yLabel: 's', censored: 'c', noData: 'no data' })).toContain('>no data</text>');
  });

  it('the well-formedness check itself catches broken markup', () => {
    expect(xmlProblem('<svg><g></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a < b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a & b</text></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><rect x=1/></svg>')).not.toBeNull();
    expect(xmlProblem('<svg><text>a &amp; b</text><rect x="1"/></svg>')).toBeNull();
  });

  it('helpers: escaping, numbers, percentages', () => {
    expect(escapeXml(`a<b>&"'`)).toBe('a&lt;b&gt;&amp;&quot;&#39;');
    expect([num(1 / 3), num(-0), num(-0.001), num(2)]).toEqual(['0.33', '0', '0', '2']);
    expect([percent(0.4567), percent(null), percent(1)]).toEqual(['45.7%', '–', '100%']);
  });
});

describe('charts from a report', () => {
  it('the survival curves of the report details render in zh-CN and English', () => {
    const r = report({
      kind: 'year',
      key: '2026',
      timezone: 'Asia/Shanghai',
      sites: [
        {
          siteId: 'a',
          current: {
            teams: [
              { id: 't1', admittedOn: '2024-03-01', status: 'exited', exitOn: '2025-01-10', exitReason: 'funding' },
              { id: 't2', admittedOn: '2024-05-01', status: 'graduated', graduatedOn: '2026-02-01' },
              { id: 't3', admittedOn: '2025-06-01', status: 'incubating' },
            ],
          },
          previous: {},
        },
      ],
    });
    const cohorts = r.total.details.survival!.cohorts.map((c) => ({ label: c.cohort, curve: c.curve }));
    expect(cohorts.map((c) => c.label)).toEqual(['2024', '2025']);
    const zh = survivalChart(cohorts, { title: '初创企业存活率', desc: '按入驻年份的 Kaplan–Meier 估计', xLabel: '入驻后月数', yLabel: '存活率', censored: '删失', noData: '无数据' }, { idPrefix: 'km-zh' });
    const en = survivalChart(cohorts, { title: 'Start-up survival', desc: 'Kaplan–Meier by admission year', xLabel: 'Months since admission', yLabel: 'Survival', censored: 'censored', noData: 'no data' }, { idPrefix: 'km-en' });
    for (const svg of [zh, en]) {
      expect(xmlProblem(svg)).toBeNull();
      // 2024: t1 exits (a step down), t2 censored at graduation (a tick); 2025: t3 censored at the year's end (a tick).
      expect(svg.match(/<path d="[^"]*V/g)).toHaveLength(1);
      expect(svg.match(/stroke-width="1\.5"><title>/g)).toHaveLength(2);
    }
    expect(zh).toContain('入驻后月数');
    expect(en).toContain('Months since admission');
  });
});
