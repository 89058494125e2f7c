// The member page: my current session (GET /api/v1/live, which shows a
// member their own member id only), my usage this month
// (GET /api/v1/usage/sessions, a member's own) and my statement
// (GET /api/v1/statements?month=, a member's own; the printable version is
// /api/v1/statements/:month/print). The server decides what is mine: the
// page never asks for anyone else.
import { api, ApiError, el, enableLogout, fail, LANG, pick, showContent, t, when, whoAmI } from './common.js';

const HOUR = 3600_000;

function money(minor, currency) {
  return new Intl.NumberFormat(LANG, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' }).format(minor / 100);
}

function section(id, title, ...body) {
  document.getElementById(id).replaceChildren(el('h2', {}, title), ...body);
}

/** Sessions summed per kind and resource: how many, and how long (ongoing ones up to now). */
function summarise(usage, now) {
  const rows = new Map();
  const add = (s, open) => {
    const key = `${s.kind}|${s.resource}`;
    const r = rows.get(key) ?? { kind: s.kind, resource: s.resource, sessions: 0, ms: 0, open: false };
    r.sessions += 1;
    r.ms += Math.max(0, (open ? Math.min(now, s.end) : s.end) - s.start);
    r.open = r.open || open;
    rows.set(key, r);
  };
  for (const s of usage.sessions) add(s, false);
  for (const s of usage.open) add(s, true);
  return [...rows.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.resource.localeCompare(b.resource));
}

async function main() {
  const me = await whoAmI();
  enableLogout();
  if (me.role !== 'member') {
    showContent();
    section('me-now', t('member.title'), el('p', { class: 'note' }, t('me.staff')));
    return;
  }
  const [member, plan] = await Promise.all([api('/api/v1/me/member'), api('/api/v1/floorplan')]);
  const tz = plan.site.timezone;
  const siteName = pick(plan.site.name, plan.site.nameZh);
  document.getElementById('site-name').textContent = `${t('member.title')} · ${siteName}`;
  const spaceName = new Map(plan.spaces.map((s) => [s.id, pick(s.name, s.nameZh)]));
  const machineName = new Map(plan.machines.map((m) => [m.id, pick(m.name, m.nameZh)]));
  const resourceName = (id) => spaceName.get(id) ?? machineName.get(id) ?? id;
  showContent();

  const who = el('p', { class: 'who-am-i', 'data-member': member.id }, t('me.member', { name: pick(member.name, member.nameZh), memberNo: member.memberNo }));

  // Now: what the live state shows of me (a member is sent their own id only).
  try {
    const live = await api('/api/v1/live');
    const lines = [];
    for (const [space, list] of Object.entries(live.presence)) {
      for (const p of list) if (p.memberId === member.id) lines.push(el('li', { 'data-now': space }, t('me.inSpace', { space: resourceName(space), since: when(p.since, tz) })));
    }
    for (const [id, m] of Object.entries(live.machines)) {
      if (m.memberId === member.id) lines.push(el('li', { 'data-now': id }, t('me.atMachine', { machine: resourceName(id), state: t(`state.${m.state}`), since: m.since === null ? '—' : when(m.since, tz) })));
    }
    section('me-now', t('me.now'), who, lines.length ? el('ul', {}, ...lines) : el('p', { class: 'note' }, t('me.notInside')));
  } catch (err) {
    section('me-now', t('me.now'), who, el('p', { class: 'note' }, err instanceof ApiError ? t('unavailable', { detail: err.message }) : String(err)));
  }

  // The statement first: it gives the month's bounds in the site's time zone, which the usage query takes.
  const month = plan.month;
  let statements;
  try {
    statements = await api(`/api/v1/statements?month=${encodeURIComponent(month)}`);
  } catch (err) {
    const note = el('p', { class: 'note' }, err instanceof ApiError ? t('unavailable', { detail: err.message }) : String(err));
    section('me-statement', t('me.statement', { month }), note);
    section('me-usage', t('me.usage', { month }), note.cloneNode(true));
    return;
  }

  const mine = statements.statements.find((s) => s.party.kind === 'member' && s.party.id === member.id);
  if (!mine) section('me-statement', t('me.statement', { month }), el('p', { class: 'note', 'data-statement': 'none' }, t('me.statement.none')));
  else {
    const row = (key, minor, name) => el('tr', {}, el('th', { scope: 'row' }, t(key)), el('td', { 'data-total': name }, money(minor, statements.currency)));
    const printable = `/api/v1/statements/${encodeURIComponent(month)}/print?party=${encodeURIComponent(`member:${member.id}`)}&lang=${LANG}`;
    section(
      'me-statement',
      t('me.statement', { month }),
      el('table', { class: 'totals-table', 'data-statement': `member:${member.id}` }, el('tbody', {}, row('me.statement.amount', mine.totals.amountMinor, 'amount'), row('me.statement.reference', mine.totals.referenceMinor, 'reference'), row('me.statement.subsidy', mine.totals.subsidyMinor, 'subsidy'))),
      el('p', {}, t('me.statement.lines', { lines: mine.totals.lines }), ' · ', el('a', { href: printable, 'data-print': '' }, t('me.statement.print'))),
    );
  }

  try {
    const usage = await api(`/api/v1/usage/sessions?from=${statements.from}&to=${statements.to}`);
    const rows = summarise(usage, Date.now());
    if (rows.length === 0) section('me-usage', t('me.usage', { month }), el('p', { class: 'note' }, t('me.usage.none')));
    else {
      const head = el('tr', {}, ...['me.usage.kind', 'me.usage.resource', 'me.usage.sessions', 'me.usage.hours'].map((k) => el('th', { scope: 'col' }, t(k))));
      const body = rows.map((r) =>
        el('tr', { 'data-usage': `${r.kind}:${r.resource}` }, el('td', {}, t(`kind.${r.kind}`)), el('td', {}, resourceName(r.resource)), el('td', { class: 'num' }, r.sessions), el('td', { class: 'num' }, `${(r.ms / HOUR).toFixed(1)}${r.open ? t('me.usage.open') : ''}`)),
      );
      section('me-usage', t('me.usage', { month }), el('table', { class: 'usage' }, el('thead', {}, head), el('tbody', {}, ...body)));
    }
  } catch (err) {
    section('me-usage', t('me.usage', { month }), el('p', { class: 'note' }, err instanceof ApiError ? t('unavailable', { detail: err.message }) : String(err)));
  }
}

main().catch((err) => fail(err));
