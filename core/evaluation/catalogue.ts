/**
 * The indicators a space is evaluated on, with their bilingual names and
 * units: one typed catalogue the report, its CSV/printed forms and
 * docs/indicators.md all take their names from. `guidance` says which
 * figure of the public guidance or assessment practice the indicator answers
 * (items of /work/shared/reference/evaluation-indicators.md, "ref §n", and of
 * the 2015 work guideline 《发展众创空间工作指引》, "指引 六(四)").
 */

/** Kinds of recorded service; the same values as server/db/schema.ts SERVICE_KINDS (services.kind). */
export const SERVICE_KINDS = ['training', 'mentoring', 'event', 'technical', 'investment'] as const;
export type ServiceKind = (typeof SERVICE_KINDS)[number];

export type IndicatorUnit = 'people' | 'teams' | 'enterprises' | 'deliveries' | 'hours' | 'ratio' | 'money-minor' | 'workstations' | 'bookings';

/** Display units: how a value of the unit is labelled in each language. */
export const UNIT_LABELS: Readonly<Record<IndicatorUnit, { readonly zh: string; readonly en: string }>> = {
  people: { zh: '人', en: 'people' },
  teams: { zh: '个', en: 'teams' },
  enterprises: { zh: '家', en: 'enterprises' },
  deliveries: { zh: '场次', en: 'deliveries' },
  hours: { zh: '小时', en: 'hours' },
  ratio: { zh: '%', en: '%' },
  'money-minor': { zh: '分', en: 'minor units' },
  workstations: { zh: '个', en: 'workstations' },
  bookings: { zh: '次', en: 'bookings' },
};

export type IndicatorGroup = 'served' | 'teams' | 'survival' | 'services' | 'low-cost' | 'capacity' | 'bookings';

export interface IndicatorDef {
  readonly id: string;
  readonly group: IndicatorGroup;
  readonly nameZh: string;
  readonly nameEn: string;
  readonly unit: IndicatorUnit;
  /** Which guidance figure it answers. */
  readonly guidance: string;
}

const SERVICE_NAMES: Readonly<Record<ServiceKind, { readonly zh: string; readonly en: string }>> = {
  training: { zh: '创业教育培训', en: 'Trainings' },
  mentoring: { zh: '创业导师辅导', en: 'Mentor sessions' },
  event: { zh: '创新创业活动（路演、沙龙、大赛）', en: 'Events and roadshows' },
  technical: { zh: '技术服务', en: 'Technical services' },
  investment: { zh: '投融资对接', en: 'Investment introductions' },
};

const SERVICE_GUIDANCE: Readonly<Record<ServiceKind, string>> = {
  training: 'ref §1 #9 (events incl. entrepreneurship education/training ≥ 10/yr); ref §3 Zhejiang 创业教育培训',
  mentoring: 'ref §1 #8a (≥ 3 mentors); ref §3 Huzhou mentors and mentoring sessions (15 pts)',
  event: 'ref §1 #9 (≥ 10 events/yr); ref §3 pqdy events (8 pts)',
  technical: 'ref §3 Huzhou technical services (10 pts); 指引 服务功能 (technical services)',
  investment: 'ref §2 投融资服务; ref §3 Zhejiang 创业融资服务',
};

function serviceIndicators(kind: ServiceKind): IndicatorDef[] {
  const n = SERVICE_NAMES[kind];
  const g = SERVICE_GUIDANCE[kind];
  return [
    { id: `services-${kind}-deliveries`, group: 'services', nameZh: `${n.zh}场次`, nameEn: `${n.en}: deliveries`, unit: 'deliveries', guidance: g },
    { id: `services-${kind}-participants`, group: 'services', nameZh: `${n.zh}参与人次`, nameEn: `${n.en}: participants`, unit: 'people', guidance: g },
    { id: `services-${kind}-hours`, group: 'services', nameZh: `${n.zh}时长`, nameEn: `${n.en}: hours`, unit: 'hours', guidance: g },
  ];
}

export const SURVIVAL_MILESTONES_MONTHS = [6, 12, 24, 36] as const;
export type SurvivalMilestone = (typeof SURVIVAL_MILESTONES_MONTHS)[number];

export const INDICATORS: readonly IndicatorDef[] = Object.freeze([
  { id: 'members-served', group: 'served', nameZh: '服务创业者数量', nameEn: 'Entrepreneurs served', unit: 'people', guidance: '指引 六(四) 服务创业者数量; ref §2 创业团队人员数量' },
  { id: 'teams-served', group: 'served', nameZh: '服务创业团队数量', nameEn: 'Start-up teams served', unit: 'teams', guidance: 'ref §2 当年服务的创业团队数量' },
  { id: 'teams-in-residence', group: 'teams', nameZh: '在孵团队数（期末）', nameEn: 'Teams in residence (period end)', unit: 'teams', guidance: 'ref §1 #5 (≥ 20 resident teams and enterprises a year)' },
  { id: 'enterprises-in-residence', group: 'teams', nameZh: '在孵企业数（期末）', nameEn: 'Enterprises in residence (period end)', unit: 'enterprises', guidance: 'ref §1 #5; ref §3 chacewang veto (firms ≥ 2/3 of residents)' },
  { id: 'teams-admitted', group: 'teams', nameZh: '新入驻团队数', nameEn: 'Teams newly admitted', unit: 'teams', guidance: 'ref §3 pqdy new resident teams (15 pts)' },
  { id: 'teams-graduated', group: 'teams', nameZh: '毕业团队数', nameEn: 'Teams graduated', unit: 'teams', guidance: 'ref §4 毕业企业 (incubator measures art. 9)' },
  { id: 'teams-exited', group: 'teams', nameZh: '退出团队数', nameEn: 'Teams exited', unit: 'teams', guidance: 'ref §4 孵化到期出园 (exit count); reasons in the report details' },
  { id: 'enterprises-registered', group: 'teams', nameZh: '新注册企业数', nameEn: 'Enterprises registered by members', unit: 'enterprises', guidance: 'ref §1 #6 (≥ 10 new enterprises a year); ref §2 当年新注册企业数' },
  { id: 'teams-financed', group: 'teams', nameZh: '获得投资的团队及企业数', nameEn: 'Teams that raised investment', unit: 'teams', guidance: 'ref §1 #6 (or ≥ 5 financed); ref §2 获得投资的团队及企业数量' },
  { id: 'investment-raised', group: 'teams', nameZh: '团队及企业获得投资总额', nameEn: 'Investment raised', unit: 'money-minor', guidance: 'ref §2 团队及企业获得投资总额 (reported in 千元)' },
  ...SURVIVAL_MILESTONES_MONTHS.map(
    (m): IndicatorDef => ({ id: `survival-${m}m`, group: 'survival', nameZh: `初创企业存活率（${m}个月）`, nameEn: `Start-up survival at ${m} months`, unit: 'ratio', guidance: '指引 六(四) 初创企业存活率; ref §4 (no official formula: ours, Kaplan–Meier)' }),
  ),
  ...serviceIndicators('training'),
  ...serviceIndicators('mentoring'),
  ...serviceIndicators('event'),
  ...serviceIndicators('technical'),
  ...serviceIndicators('investment'),
  { id: 'events-and-trainings', group: 'services', nameZh: '举办活动及培训场次', nameEn: 'Events and trainings held', unit: 'deliveries', guidance: 'ref §1 #9 (≥ 10 a year); ref §2 举办创新创业活动场次 / 开展创业教育培训场次' },
  { id: 'events-and-trainings-attendance', group: 'services', nameZh: '活动及培训参与人次', nameEn: 'Attendance at events and trainings', unit: 'people', guidance: 'ref §1 #9; ref §3 Zhejiang 创业教育培训和活动' },
  { id: 'low-cost-share', group: 'low-cost', nameZh: '免费或低价服务占比', nameEn: 'Share of usage free or subsidised', unit: 'ratio', guidance: '指引 低成本 (free or low-cost space and equipment)' },
  { id: 'value-given-away', group: 'low-cost', nameZh: '减免服务价值', nameEn: 'Value given away', unit: 'money-minor', guidance: '指引 六(二) subsidy of rent, shared equipment, training, mentoring, events' },
  { id: 'subsidy-rate', group: 'low-cost', nameZh: '减免比例', nameEn: 'Share of reference value given away', unit: 'ratio', guidance: '指引 低成本' },
  { id: 'workstations', group: 'capacity', nameZh: '创业工位总数', nameEn: 'Total workstations', unit: 'workstations', guidance: 'ref §1 #4 (≥ 30 workstations); ref §3 pqdy workstations (10 pts)' },
  { id: 'workstation-occupancy', group: 'capacity', nameZh: '工位使用率（实测）', nameEn: 'Workstation occupancy (measured)', unit: 'ratio', guidance: 'ref §3 pqdy 工位入驻率 (scored from 60 %): measured desk time' },
  { id: 'workstation-allocation', group: 'capacity', nameZh: '工位入驻率', nameEn: 'Workstations allocated (period end)', unit: 'ratio', guidance: 'ref §3 pqdy 工位入驻率 (scored from 60 %)' },
  { id: 'machine-utilisation', group: 'capacity', nameZh: '共享设备使用率', nameEn: 'Shared equipment utilisation', unit: 'ratio', guidance: '指引 建设条件 (shared R&D and test platforms)' },
  { id: 'lab-utilisation', group: 'capacity', nameZh: '实验室设备使用率', nameEn: 'Lab equipment utilisation', unit: 'ratio', guidance: '指引 建设条件 (labs and machines)' },
  { id: 'bookings-made', group: 'bookings', nameZh: '预约次数', nameEn: 'Bookings made', unit: 'bookings', guidance: 'issue #13: equipment and work space opened to users, booked vs used' },
  { id: 'bookings-used', group: 'bookings', nameZh: '实际使用的预约次数', nameEn: 'Bookings used', unit: 'bookings', guidance: 'issue #13: use seen by badge, desk sensor or machine power' },
  { id: 'bookings-no-show', group: 'bookings', nameZh: '爽约次数', nameEn: 'No-shows', unit: 'bookings', guidance: 'issue #13: booked but unused' },
  { id: 'booked-hours', group: 'bookings', nameZh: '预约时长', nameEn: 'Booked hours', unit: 'hours', guidance: 'issue #13: booked vs used' },
  { id: 'booked-hours-used-share', group: 'bookings', nameZh: '预约时长实际使用率', nameEn: 'Share of booked hours used', unit: 'ratio', guidance: 'issue #13: booked vs used utilisation' },
] satisfies IndicatorDef[]);

export type IndicatorId = string;

export const INDICATOR_BY_ID: ReadonlyMap<string, IndicatorDef> = new Map(INDICATORS.map((d) => [d.id, d] as const));
