/**
 * The words of the live floor plan and the member page, in Chinese and
 * English. The page is rendered in one language (?lang=, else
 * Accept-Language: server/print/messages.ts chooseLang) and hands its
 * catalogue to the page's script as a JSON data block (never executed, so the
 * CSP's script-src 'self' holds). Placeholders are {name}.
 */
import type { Lang } from '../print/messages.js';

export const WEB_MESSAGES = {
  'floor.title': { 'zh-CN': '实时平面图', en: 'Live floor plan' },
  'member.title': { 'zh-CN': '我的空间', en: 'My space' },
  'nav.floor': { 'zh-CN': '平面图', en: 'Floor plan' },
  'nav.member': { 'zh-CN': '我的', en: 'Me' },
  'nav.lang': { 'zh-CN': 'English', en: '中文' },
  'login.title': { 'zh-CN': '请登录', en: 'Please log in' },
  'login.username': { 'zh-CN': '用户名', en: 'User name' },
  'login.password': { 'zh-CN': '密码', en: 'Password' },
  'login.submit': { 'zh-CN': '登录', en: 'Log in' },
  'login.failed': { 'zh-CN': '用户名或密码错误', en: 'Wrong user name or password' },
  'logout': { 'zh-CN': '退出', en: 'Log out' },
  'loading': { 'zh-CN': '加载中…', en: 'Loading…' },
  'error': { 'zh-CN': '出错了：{detail}', en: 'Something went wrong: {detail}' },
  'live.connected': { 'zh-CN': '实时', en: 'Live' },
  'live.reconnecting': { 'zh-CN': '连接中断，正在重连…', en: 'Connection lost, reconnecting…' },
  'live.updated': { 'zh-CN': '更新于 {time}', en: 'Updated {time}' },
  'totals': { 'zh-CN': '在场 {people} 人 · 工位 {desksOccupied}/{desks} · 设备运行 {machinesRunning}/{machines}', en: '{people} inside · desks {desksOccupied}/{desks} · machines running {machinesRunning}/{machines}' },
  'space.people': { 'zh-CN': '{people} 人', en: '{people} in' },
  'space.peopleCap': { 'zh-CN': '{people}/{capacity} 人', en: '{people}/{capacity} in' },
  'space.desks': { 'zh-CN': '工位 {occupied}/{desks}', en: 'desks {occupied}/{desks}' },
  'space.machines': { 'zh-CN': '设备 {inUse}/{machines}', en: 'machines {inUse}/{machines}' },
  'desk': { 'zh-CN': '工位 {id}', en: 'Desk {id}' },
  'door': { 'zh-CN': '门 {name}', en: 'Door {name}' },
  'state.occupied': { 'zh-CN': '有人', en: 'occupied' },
  'state.vacant': { 'zh-CN': '空闲', en: 'free' },
  'state.unknown': { 'zh-CN': '未知（传感器离线）', en: 'unknown (sensor offline)' },
  'state.running': { 'zh-CN': '运行中', en: 'running' },
  'state.idle': { 'zh-CN': '使用中（待机）', en: 'in use (idle)' },
  'state.off': { 'zh-CN': '关闭', en: 'off' },
  'state.online': { 'zh-CN': '在线', en: 'online' },
  'state.offline': { 'zh-CN': '离线', en: 'offline' },
  'legend': { 'zh-CN': '图例', en: 'Legend' },
  'who.title': { 'zh-CN': '谁在哪里', en: 'Who is where' },
  'who.nobody': { 'zh-CN': '目前没有人', en: 'Nobody in now' },
  'who.at': { 'zh-CN': '{machine}：{name}', en: '{machine}: {name}' },
  'who.hidden': { 'zh-CN': '成员姓名仅对管理员显示。', en: 'Member names are shown to managers only.' },
  'who.unknownMember': { 'zh-CN': '（未知成员）', en: '(unknown member)' },
  'me.now': { 'zh-CN': '当前', en: 'Now' },
  'me.inSpace': { 'zh-CN': '您在 {space}，{since} 进入', en: 'You are in {space}, since {since}' },
  'me.atMachine': { 'zh-CN': '您正在使用 {machine}（{state}），自 {since}', en: 'You are using {machine} ({state}), since {since}' },
  'me.notInside': { 'zh-CN': '您目前不在空间内。', en: 'You are not inside now.' },
  'me.usage': { 'zh-CN': '本月使用（{month}）', en: 'Usage this month ({month})' },
  'me.usage.none': { 'zh-CN': '本月还没有使用记录。', en: 'No usage this month yet.' },
  'me.usage.kind': { 'zh-CN': '类型', en: 'Kind' },
  'me.usage.resource': { 'zh-CN': '资源', en: 'Resource' },
  'me.usage.sessions': { 'zh-CN': '次数', en: 'Sessions' },
  'me.usage.hours': { 'zh-CN': '小时', en: 'Hours' },
  'me.usage.open': { 'zh-CN': '（进行中）', en: ' (ongoing)' },
  'kind.desk': { 'zh-CN': '工位', en: 'Desk' },
  'kind.presence': { 'zh-CN': '在场', en: 'Presence' },
  'kind.machine': { 'zh-CN': '设备', en: 'Machine' },
  'me.statement': { 'zh-CN': '本月账单（{month}）', en: 'Statement for {month}' },
  'me.statement.none': { 'zh-CN': '本月没有记在您个人名下的费用（团队承担的费用见团队账单）。', en: 'Nothing billed to you personally this month (what your team pays is on its statement).' },
  'me.statement.amount': { 'zh-CN': '应付金额', en: 'Amount due' },
  'me.statement.reference': { 'zh-CN': '市场参考价', en: 'Reference value' },
  'me.statement.subsidy': { 'zh-CN': '补贴', en: 'Subsidy' },
  'me.statement.lines': { 'zh-CN': '明细 {lines} 条', en: 'Lines: {lines}' },
  'me.statement.print': { 'zh-CN': '打印版', en: 'Printable version' },
  'me.staff': { 'zh-CN': '此页面面向会员；管理人员请使用平面图和管理接口。', en: 'This page is for members; staff use the floor plan and the API.' },
  'me.member': { 'zh-CN': '{name}（会员号 {memberNo}）', en: '{name} (member no. {memberNo})' },
  'unavailable': { 'zh-CN': '暂不可用：{detail}', en: 'Not available: {detail}' },
  'book.title': { 'zh-CN': '开放预约', en: 'Book a machine, desk or room' },
  'nav.book': { 'zh-CN': '预约', en: 'Book' },
  'book.intro': { 'zh-CN': '本空间的共享设备、工位和会议室向公众开放。以下是当前空闲情况；访客可提交预约申请，由管理人员确认。', en: 'Our shared machines, desks and rooms are open to the public. Here is what is free; visitors can request a booking, which a manager confirms.' },
  'book.resource': { 'zh-CN': '资源', en: 'Resource' },
  'book.where': { 'zh-CN': '位置', en: 'Where' },
  'book.now': { 'zh-CN': '现在', en: 'Now' },
  'book.busy': { 'zh-CN': '已预约时段', en: 'Booked' },
  'book.free': { 'zh-CN': '空闲', en: 'free' },
  'book.freeUntil': { 'zh-CN': '空闲至 {time}', en: 'free until {time}' },
  'book.taken': { 'zh-CN': '已被预约', en: 'booked' },
  'book.closed': { 'zh-CN': '未开放', en: 'closed' },
  'book.outOfService': { 'zh-CN': '暂停使用', en: 'out of service' },
  'book.none': { 'zh-CN': '暂无', en: 'none' },
  'book.rule': { 'zh-CN': '{min}–{max} 分钟，最多提前 {days} 天', en: '{min}–{max} min, up to {days} days ahead' },
  'book.type.equipment': { 'zh-CN': '设备', en: 'Machine' },
  'book.type.desk': { 'zh-CN': '工位', en: 'Desk' },
  'book.type.room': { 'zh-CN': '会议室', en: 'Room' },
  'book.request': { 'zh-CN': '申请预约', en: 'Request a booking' },
  'book.name': { 'zh-CN': '姓名', en: 'Name' },
  'book.contact': { 'zh-CN': '联系方式（邮箱或电话）', en: 'Contact (e-mail or phone)' },
  'book.date': { 'zh-CN': '日期', en: 'Date' },
  'book.start': { 'zh-CN': '开始时间', en: 'Start' },
  'book.minutes': { 'zh-CN': '时长（分钟）', en: 'Length (minutes)' },
  'book.send': { 'zh-CN': '提交申请', en: 'Send request' },
  'book.sent': { 'zh-CN': '申请已提交（编号 {id}），管理人员确认后生效。', en: 'Request sent (no. {id}); it holds once a manager confirms it.' },
  'book.timezone': { 'zh-CN': '时间均为本空间当地时间（{zone}）。', en: 'Times are the space’s local time ({zone}).' },
} as const satisfies Record<string, Record<Lang, string>>;

export type WebMessageKey = keyof typeof WEB_MESSAGES;

/** One language's catalogue, as the page's script receives it. */
export function catalogue(lang: Lang): Record<WebMessageKey, string> {
  return Object.fromEntries(Object.entries(WEB_MESSAGES).map(([k, v]) => [k, v[lang]])) as Record<WebMessageKey, string>;
}

export function webMsg(lang: Lang, key: WebMessageKey): string {
  return WEB_MESSAGES[key][lang];
}
