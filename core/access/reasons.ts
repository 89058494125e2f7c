/**
 * Why a swipe was granted or refused: a stable code, a sentence in English and
 * Chinese (for the member, on the reader's display or in their history), and
 * the feedback pattern a reader shows (docs/protocol.md, "Reader feedback").
 */
export const REASONS = {
  granted: { grant: true, en: 'Welcome', zh: '欢迎', led: 'green', beeps: 1 },
  override: { grant: true, en: 'Override badge', zh: '管理员卡', led: 'green', beeps: 2 },
  exit: { grant: true, en: 'Goodbye', zh: '再见', led: 'green', beeps: 1 },
  session_ended: { grant: true, en: 'Session ended, machine off', zh: '使用结束，设备已断电', led: 'amber', beeps: 2 },
  policy_missing: { grant: false, en: 'Access list not loaded yet', zh: '门禁名单尚未加载', led: 'red', beeps: 3 },
  policy_stale: { grant: false, en: 'Access list out of date: ask staff', zh: '门禁名单已过期，请联系工作人员', led: 'red', beeps: 3 },
  unknown_badge: { grant: false, en: 'Unknown card', zh: '未登记的卡', led: 'red', beeps: 3 },
  badge_lost: { grant: false, en: 'Card reported lost', zh: '此卡已挂失', led: 'red', beeps: 4 },
  badge_blocked: { grant: false, en: 'Card blocked', zh: '此卡已停用', led: 'red', beeps: 4 },
  unknown_member: { grant: false, en: 'Card holder unknown', zh: '持卡人不存在', led: 'red', beeps: 3 },
  member_suspended: { grant: false, en: 'Membership suspended', zh: '会员资格已暂停', led: 'red', beeps: 3 },
  member_left: { grant: false, en: 'Membership ended', zh: '会员资格已终止', led: 'red', beeps: 3 },
  no_plan: { grant: false, en: 'No membership plan', zh: '未办理会员套餐', led: 'red', beeps: 3 },
  plan_inactive: { grant: false, en: 'Plan no longer offered', zh: '套餐已停用', led: 'red', beeps: 3 },
  plan_not_started: { grant: false, en: 'Plan not started yet', zh: '套餐尚未生效', led: 'red', beeps: 3 },
  plan_expired: { grant: false, en: 'Plan expired', zh: '套餐已到期', led: 'red', beeps: 3 },
  space_not_in_plan: { grant: false, en: 'Not included in your plan', zh: '您的套餐不含此区域', led: 'red', beeps: 3 },
  outside_opening_hours: { grant: false, en: 'Closed now', zh: '当前不在开放时间', led: 'red', beeps: 2 },
  outside_plan_hours: { grant: false, en: 'Outside your plan’s hours', zh: '不在您套餐的使用时段', led: 'red', beeps: 2 },
  certification_missing: { grant: false, en: 'Safety training needed', zh: '需先完成安全培训', led: 'red', beeps: 3 },
  certification_expired: { grant: false, en: 'Safety training expired', zh: '安全培训已过期', led: 'red', beeps: 3 },
  certification_revoked: { grant: false, en: 'Certification withdrawn', zh: '操作资格已撤销', led: 'red', beeps: 3 },
  certification_lapsed: { grant: false, en: 'Training lapsed from disuse: refresh it', zh: '长期未使用，需重新培训', led: 'red', beeps: 3 },
  space_full: { grant: false, en: 'Lab full: safety limit reached', zh: '实验室人数已满', led: 'red', beeps: 2 },
  anti_passback: { grant: false, en: 'Already inside: badge out first', zh: '您已在内，请先刷卡离开', led: 'red', beeps: 2 },
  out_of_service: { grant: false, en: 'Machine out of service', zh: '设备停用维修中', led: 'red', beeps: 2 },
  booked: { grant: false, en: 'Booked by someone else now', zh: '此时段已被他人预约', led: 'red', beeps: 2 },
  swipe_late: { grant: false, en: 'Card read too long ago: swipe again', zh: '刷卡信息延迟，请重新刷卡', led: 'red', beeps: 3 },
  closing: { grant: false, en: 'Closing soon: no new sessions', zh: '即将闭馆，不再开始新的使用', led: 'red', beeps: 2 },
} as const;

export type ReasonCode = keyof typeof REASONS;
export type Led = (typeof REASONS)[ReasonCode]['led'];

/**
 * Why a machine session the gateway ends on its own is warned about or ended
 * (`session` messages with state `warning` or `ended`), and what the reader
 * shows. A warning comes while the machine is still working: it ends once idle.
 */
export const SESSION_WARNINGS = {
  max_run: { en: 'Time limit reached: finish your job', zh: '已达使用时限，请尽快结束作业' },
  closing: { en: 'Closing soon: finish your job', zh: '即将闭馆，请尽快结束作业' },
  out_of_service: { en: 'Machine reported out of service: finish your job', zh: '设备已报停用，请尽快结束作业' },
} as const;

export const SESSION_ENDS = {
  idle: { en: 'Idle too long: machine off', zh: '空闲过久，设备已断电' },
  max_run: { en: 'Time limit reached: machine off', zh: '已达使用时限，设备已断电' },
  closing: { en: 'Closed: machine off', zh: '已闭馆，设备已断电' },
  out_of_service: { en: 'Out of service: machine off', zh: '设备停用，已断电' },
} as const;

export type SessionWarning = keyof typeof SESSION_WARNINGS;
export type SessionEnd = keyof typeof SESSION_ENDS;
