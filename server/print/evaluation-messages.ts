/**
 * Every string of the printable statistics report (server/print/evaluation.ts)
 * and of its CSV, in both languages. The indicators' own names come from the
 * core's catalogue (core/evaluation/catalogue.ts); these are the report's
 * headings, columns, chart labels and notes. Placeholders are `{name}`; both
 * languages of a message use the same ones (tests/unit/evaluation-messages.test.ts).
 * Values put into a message are escaped by the caller.
 */
import type { IndicatorGroup } from '../../core/evaluation/catalogue.js';
import type { PeriodKind } from '../../core/evaluation/periods.js';
import type { NullReason } from '../../core/evaluation/values.js';
import type { Lang } from './messages.js';

type Catalogue = Readonly<Record<string, Readonly<Record<Lang, string>>>>;

export const EVALUATION_MESSAGES = {
  'report.title': { 'zh-CN': '众创空间统计报告', en: 'Statistics report' },
  'report.heading': { 'zh-CN': '{period} 统计报告', en: 'Statistics report: {period}' },
  'period.month': { 'zh-CN': '{key} 月度', en: 'month {key}' },
  'period.quarter': { 'zh-CN': '{key} 季度', en: 'quarter {key}' },
  'period.year': { 'zh-CN': '{key} 年度', en: 'year {key}' },
  'field.sites': { 'zh-CN': '空间', en: 'Sites' },
  'field.period': { 'zh-CN': '统计期间', en: 'Period' },
  'field.previous': { 'zh-CN': '对比期间', en: 'Compared with' },
  'field.periodRange': { 'zh-CN': '{period}（{range}）', en: '{period} ({range})' },
  'field.range': { 'zh-CN': '{from} 至 {to}', en: '{from} to {to}' },
  'field.timezone': { 'zh-CN': '时区', en: 'Time zone' },
  'field.generated': { 'zh-CN': '生成时间', en: 'Generated' },
  'field.labelled': { 'zh-CN': '{label}：{value}', en: '{label}: {value}' },
  'field.inProgress': { 'zh-CN': '本期尚未结束：数据统计至 {at}', en: 'The period has not ended: measured up to {at}' },
  'col.indicator': { 'zh-CN': '指标', en: 'Indicator' },
  'col.value': { 'zh-CN': '本期', en: 'This period' },
  'col.previous': { 'zh-CN': '上期', en: 'Previous period' },
  'col.change': { 'zh-CN': '变化', en: 'Change' },
  'col.evidence': { 'zh-CN': '依据记录数', en: 'Evidence (records)' },
  'col.reason': { 'zh-CN': '退出原因', en: 'Reason for leaving' },
  'col.teams': { 'zh-CN': '团队数', en: 'Teams' },
  'group.served': { 'zh-CN': '服务创业者', en: 'Entrepreneurs served' },
  'group.teams': { 'zh-CN': '团队入驻、毕业与退出', en: 'Teams: residence, admissions, graduations, exits' },
  'group.survival': { 'zh-CN': '初创企业存活率', en: 'Start-up survival' },
  'group.services': { 'zh-CN': '服务活动', en: 'Services delivered' },
  'group.low-cost': { 'zh-CN': '低成本服务', en: 'Low-cost delivery' },
  'group.capacity': { 'zh-CN': '工位与设备', en: 'Workstations and equipment' },
  'group.bookings': { 'zh-CN': '预约与实际使用', en: 'Bookings: booked and used' },
  'null.not-supplied': { 'zh-CN': '无数据', en: 'no data' },
  'null.zero-denominator': { 'zh-CN': '分母为零', en: 'nothing to divide by' },
  'null.no-subjects': { 'zh-CN': '无入驻团队', en: 'no teams admitted' },
  'null.no-one-at-risk': { 'zh-CN': '随访期不足', en: 'no team followed this long' },
  'null.no-previous': { 'zh-CN': '上期无数据', en: 'no previous figure' },
  'null.previous-zero': { 'zh-CN': '上期为零', en: 'previous was zero' },
  'change.points': { 'zh-CN': '{n} 个百分点', en: '{n} pp' },
  'exits.heading': { 'zh-CN': '本期退出团队及原因', en: 'Teams that left in the period, by reason' },
  'exits.none': { 'zh-CN': '本期无退出团队。', en: 'No team left in the period.' },
  'exits.unspecified': { 'zh-CN': '未注明', en: 'not stated' },
  'exits.undated': { 'zh-CN': '已毕业或退出但未登记日期的团队：{teams}（请补全日期）', en: 'Graduated or exited teams without a date: {teams} (please complete the dates)' },
  'charts.heading': { 'zh-CN': '图表', en: 'Charts' },
  'chart.heatmap.title': { 'zh-CN': '工位使用率（按星期与小时）', en: 'Desk utilisation by hour of week' },
  'chart.heatmap.desc': { 'zh-CN': '本期每个星期几、每个小时的工位占用时间占可用时间的比例；灰色为未开放或无数据。', en: 'Occupied desk time as a share of available desk time, for each weekday and hour of the period; grey: closed or no data.' },
  'chart.noData': { 'zh-CN': '无数据', en: 'no data' },
  'weekday.1': { 'zh-CN': '周一', en: 'Mon' },
  'weekday.2': { 'zh-CN': '周二', en: 'Tue' },
  'weekday.3': { 'zh-CN': '周三', en: 'Wed' },
  'weekday.4': { 'zh-CN': '周四', en: 'Thu' },
  'weekday.5': { 'zh-CN': '周五', en: 'Fri' },
  'weekday.6': { 'zh-CN': '周六', en: 'Sat' },
  'weekday.7': { 'zh-CN': '周日', en: 'Sun' },
  'chart.occupancy.title': { 'zh-CN': '工位使用率（本期走势）', en: 'Desk occupancy over the period' },
  'chart.occupancy.desc': { 'zh-CN': '本期每{bucket}工位占用时间占可用时间的比例；断开处为未开放或无数据。', en: 'Occupied desk time as a share of available desk time, per {bucket} of the period; gaps: closed or no data.' },
  'bucket.day': { 'zh-CN': '日', en: 'day' },
  'bucket.week': { 'zh-CN': '周', en: 'week' },
  'chart.occupancy.y': { 'zh-CN': '使用率', en: 'Occupancy' },
  'chart.survival.title': { 'zh-CN': '初创企业存活率（按入驻年份）', en: 'Start-up survival by admission cohort' },
  'chart.survival.desc': { 'zh-CN': 'Kaplan–Meier 估计：毕业与尚在孵化的团队视为删失，不计为失败；虚线为 6、12、24、36 个月。', en: 'Kaplan–Meier estimate: graduated and still-incubating teams are censored, not failures; dashed lines at 6, 12, 24 and 36 months.' },
  'chart.survival.x': { 'zh-CN': '入驻后月数', en: 'Months since admission' },
  'chart.survival.y': { 'zh-CN': '存活率', en: 'Surviving' },
  'chart.survival.censored': { 'zh-CN': '删失', en: 'censored' },
  'chart.survival.all': { 'zh-CN': '全部', en: 'all' },
  'chart.trend.title': { 'zh-CN': '服务创业者数量（近 12 个月）', en: 'Entrepreneurs served, last 12 months' },
  'chart.trend.desc': { 'zh-CN': '截至本期最后一个月的 12 个月中，每月有使用记录或参加服务的会员人数；“–”为尚未开始的月份。', en: 'Members with a recorded use or a service participation in each of the 12 months ending with the period’s last month; “–”: months not begun yet.' },
  'chart.trend.y': { 'zh-CN': '人', en: 'people' },
  'note.definitions': {
    'zh-CN': '各指标的定义、公式与边界情况见 docs/indicators.md。“依据记录数”为该数值所依据的记录条数。比率以百分比显示，变化为本期减上期（比率为百分点）及相对变化。',
    en: 'Each indicator’s definition, formula and edge cases: docs/indicators.md. “Evidence” is the number of records a figure rests on. Rates are shown as percentages; the change is this period minus the previous one (percentage points for rates) and the relative change.',
  },
  'note.workstations': {
    'zh-CN': '工位总数为空间配置文件中的工位数；工位入驻率按固定工位（分配给团队或会员）计算。',
    en: 'Workstations are the desks in the site file; those allocated are its fixed desks (assigned to a team or member).',
  },
} as const satisfies Catalogue;

export type EvaluationMessageKey = keyof typeof EVALUATION_MESSAGES;

/** The message in `lang` with its placeholders filled in (values as given: escape them first for markup). */
export function emsg(lang: Lang, key: EvaluationMessageKey, vars: Readonly<Record<string, string>> = {}): string {
  const text: string = EVALUATION_MESSAGES[key][lang];
  return text.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}

export const groupKey = (g: IndicatorGroup): EvaluationMessageKey => `group.${g}`;
export const nullKey = (r: NullReason): EvaluationMessageKey => `null.${r}`;
export const periodKey = (k: PeriodKind): EvaluationMessageKey => `period.${k}`;
