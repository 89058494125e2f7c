/**
 * Every string of the printable statement and subsidy claim, in both
 * languages. Placeholders are `{name}`; each language of a message uses the
 * same ones (tests/unit/print-messages.test.ts checks both are complete).
 * Values put into a message are escaped by the caller (format.ts `esc`), so
 * messages themselves may contain markup only when they are constants here.
 */

export const LANGS = ['zh-CN', 'en'] as const;
export type Lang = (typeof LANGS)[number];

type Catalogue = Readonly<Record<string, Readonly<Record<Lang, string>>>>;

export const MESSAGES = {
  'statement.title': { 'zh-CN': '费用结算单', en: 'Statement' },
  'statement.heading': { 'zh-CN': '{month} 费用结算单', en: 'Statement for {month}' },
  'claim.title': { 'zh-CN': '补贴申报表', en: 'Subsidy claim' },
  'claim.heading': { 'zh-CN': '{month} 补贴申报表', en: 'Subsidy claim for {month}' },
  'field.labelled': { 'zh-CN': '{label}：{value}', en: '{label}: {value}' },
  'field.site': { 'zh-CN': '空间', en: 'Site' },
  'field.party': { 'zh-CN': '结算对象', en: 'Billed to' },
  'field.partyKind.member': { 'zh-CN': '会员', en: 'Member' },
  'field.partyKind.team': { 'zh-CN': '团队', en: 'Team' },
  'field.memberNo': { 'zh-CN': '会员编号', en: 'Member no.' },
  'field.period': { 'zh-CN': '结算期间', en: 'Period' },
  'field.periodRange': { 'zh-CN': '{from} 至 {to}', en: '{from} to {to}' },
  'field.currency': { 'zh-CN': '币种', en: 'Currency' },
  'field.rateCard': { 'zh-CN': '价目表', en: 'Rate card' },
  'field.rateCardNo': { 'zh-CN': '第 {id} 号', en: 'no. {id}' },
  'field.generated': { 'zh-CN': '生成时间', en: 'Generated' },
  'field.closed': { 'zh-CN': '已结账', en: 'Closed' },
  'col.date': { 'zh-CN': '日期', en: 'Date' },
  'col.member': { 'zh-CN': '会员', en: 'Member' },
  'col.resource': { 'zh-CN': '资源类别', en: 'Resource' },
  'col.quantity': { 'zh-CN': '用量', en: 'Quantity' },
  'col.free': { 'zh-CN': '免费额度', en: 'Free (quota)' },
  'col.granted': { 'zh-CN': '特批免费', en: 'Granted' },
  'col.charged': { 'zh-CN': '计费用量', en: 'Charged' },
  'col.unitPrice': { 'zh-CN': '单价', en: 'Unit price' },
  'col.amount': { 'zh-CN': '金额', en: 'Amount' },
  'col.reference': { 'zh-CN': '市场参考价值', en: 'Reference value' },
  'col.subsidy': { 'zh-CN': '补贴', en: 'Subsidy' },
  'col.category': { 'zh-CN': '类别', en: 'Category' },
  'col.deliveries': { 'zh-CN': '服务次数', en: 'Deliveries' },
  'col.hours': { 'zh-CN': '小时', en: 'Hours' },
  'col.days': { 'zh-CN': '天数', en: 'Days' },
  'col.kwh': { 'zh-CN': '千瓦时', en: 'kWh' },
  'col.participants': { 'zh-CN': '参与人次', en: 'Participants' },
  'col.fees': { 'zh-CN': '已收费用', en: 'Fees' },
  'col.costs': { 'zh-CN': '成本', en: 'Costs' },
  'col.claimable': { 'zh-CN': '可申报金额', en: 'Claimable' },
  'col.evidence': { 'zh-CN': '依据', en: 'Evidence' },
  'row.total': { 'zh-CN': '合计', en: 'Total' },
  'unit.hour': { 'zh-CN': '{n} 小时', en: '{n} h' },
  'unit.day': { 'zh-CN': '{n} 天', en: '{n} d' },
  'unit.kwh': { 'zh-CN': '{n} 千瓦时', en: '{n} kWh' },
  'unit.noShow': { 'zh-CN': '{n} 次爽约', en: '{n} no-show' },
  'per.hour': { 'zh-CN': '{price}/小时', en: '{price}/h' },
  'per.day': { 'zh-CN': '{price}/天', en: '{price}/day' },
  'per.kwh': { 'zh-CN': '{price}/千瓦时', en: '{price}/kWh' },
  'per.noShow': { 'zh-CN': '{price}/次爽约', en: '{price}/no-show' },
  'fee.starting': { 'zh-CN': '含开机费 {fee}', en: 'incl. starting fee {fee}' },
  'cap.daily': { 'zh-CN': '已达每日上限', en: 'daily cap reached' },
  'cap.monthly': { 'zh-CN': '已达每月上限', en: 'monthly cap reached' },
  'evidence.charges': { 'zh-CN': '收费记录', en: 'charges' },
  'evidence.adjustments': { 'zh-CN': '调整记录', en: 'adjustments' },
  'evidence.sessions': { 'zh-CN': '使用时段', en: 'sessions' },
  'evidence.records': { 'zh-CN': '原始记录', en: 'raw records' },
  'evidence.services': { 'zh-CN': '服务记录', en: 'services' },
  'evidence.costs': { 'zh-CN': '成本凭证', en: 'cost records' },
  'statement.closed': { 'zh-CN': '已结账（{at}），以下为冻结的账目', en: 'Closed on {at}: the frozen ledger entries' },
  'statement.provisional': { 'zh-CN': '本月尚未结账：按当前价目表实时计算，结账前可能变化', en: 'Not closed yet: priced now with the rate card in force; it may change until the month is closed' },
  'field.status': { 'zh-CN': '状态', en: 'Status' },
  'adjust.heading': { 'zh-CN': '结账后的调整', en: 'Adjustments after closing' },
  'col.recorded': { 'zh-CN': '登记日期', en: 'Recorded' },
  'col.reason': { 'zh-CN': '原因', en: 'Reason' },
  'row.balance': { 'zh-CN': '调整后应付', en: 'Amount due after adjustments' },
  'statement.empty': { 'zh-CN': '本期无计费记录。', en: 'Nothing was billed in this period.' },
  'statement.note': {
    'zh-CN': '补贴 = 市场参考价值 − 实收金额（不为负数）。市场参考价值按价目表中的参考单价计算全部用量（含免费额度与特批免费部分），开机费不计入参考价值。',
    en: 'Subsidy = reference value − amount charged (never negative). The reference value prices all use (free quota and granted time included) at the rate card’s reference price; starting fees are not part of it.',
  },
  'statement.noteTeam': {
    'zh-CN': '团队结算单按会员列出团队成员的使用，计入其使用时所记录的团队。',
    en: 'A team statement lists its members’ use, billed to the team each session recorded.',
  },
  'claim.note': {
    'zh-CN': '可申报金额 = 市场参考价值 − 已收费用，按类别分别计算且不为负数；一个类别不抵扣另一类别。依据为本月账目中的收费与调整记录、使用时段、原始记录和服务记录。',
    en: 'Claimable = reference value − fees, per category and never negative; one category does not offset another. The evidence is the month’s ledger charges and adjustments, the sessions and raw records behind them, and the services recorded.',
  },
  'claim.noteCosts': {
    'zh-CN': '成本类别（宽带、软件）：可申报金额 = 成本 − 已收费用，依据为所登记的成本凭证（发票）。登记在场地或共享设备类别下的成本仅作为依据列示，不增加申报金额。',
    en: 'Cost categories (broadband, software): claimable = costs − fees, with the cost entries (invoices) as evidence. Costs recorded under space or shared equipment are shown as evidence and add nothing to the claim.',
  },
  'claim.empty': { 'zh-CN': '本月无可申报项目。', en: 'Nothing to claim for this month.' },
  'class.desk:hot': { 'zh-CN': '流动工位', en: 'Hot desk' },
  'class.desk:fixed': { 'zh-CN': '固定工位', en: 'Fixed desk' },
  'class.space:open-space': { 'zh-CN': '共享办公区', en: 'Co-working space' },
  'class.space:lab': { 'zh-CN': '实验室', en: 'Lab' },
  'class.room': { 'zh-CN': '会议室', en: 'Meeting room' },
  'class.machine': { 'zh-CN': '设备：{class}', en: 'Machine: {class}' },
  'class.machine:laser-cutter': { 'zh-CN': '激光切割机', en: 'Laser cutter' },
  'class.machine:cnc': { 'zh-CN': '数控机床', en: 'CNC machine' },
  'class.machine:3d-printer': { 'zh-CN': '3D 打印机', en: '3D printer' },
  'category.space': { 'zh-CN': '场地', en: 'Space (rent)' },
  'category.shared_equipment': { 'zh-CN': '共享设备', en: 'Shared equipment' },
  'category.training': { 'zh-CN': '培训', en: 'Training' },
  'category.mentoring': { 'zh-CN': '创业辅导', en: 'Mentoring' },
  'category.events': { 'zh-CN': '活动', en: 'Events' },
  'category.broadband': { 'zh-CN': '宽带', en: 'Broadband' },
  'category.software': { 'zh-CN': '软件', en: 'Software' },
} as const satisfies Catalogue;

export type MessageKey = keyof typeof MESSAGES;

/** Whether a message exists for this key (resource classes and categories come from data). */
export function hasMessage(key: string): key is MessageKey {
  return Object.hasOwn(MESSAGES, key);
}

/** The message in `lang` with its placeholders filled in. Values are inserted as given: escape them first when the result is markup. */
export function msg(lang: Lang, key: MessageKey, vars: Readonly<Record<string, string>> = {}): string {
  const text: string = MESSAGES[key][lang];
  return text.replace(/\{([A-Za-z]+)\}/g, (whole, name: string) => vars[name] ?? whole);
}

/** The placeholders a message uses, sorted (for the completeness test). */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!).sort();
}

/**
 * The page language: `?lang=` when given, else the caller's most preferred
 * language in Accept-Language (RFC 9110 §12.5.4: highest q first, then
 * order), Chinese of any region or script giving zh-CN, anything else English.
 */
export function chooseLang(query: Lang | undefined, acceptLanguage: string | undefined): Lang {
  if (query) return query;
  const ranges = (acceptLanguage ?? '')
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p)).find((m) => m !== null);
      return { tag: tag.trim().toLowerCase(), q: q ? Number(q[1]) : 1, i };
    })
    .filter((r) => r.tag !== '' && r.q > 0 && Number.isFinite(r.q))
    .sort((a, b) => b.q - a.q || a.i - b.i);
  const first = ranges[0]?.tag;
  return first !== undefined && (first === 'zh' || first.startsWith('zh-')) ? 'zh-CN' : 'en';
}
