// The live floor plan: the plan from GET /api/v1/floorplan drawn as inline SVG,
// coloured from the live state (GET /api/v1/live/stream: a snapshot, then
// changes to apply over it). Names of who is where come from
// GET /api/v1/floorplan/people, which answers admins and managers only; nobody
// else is ever sent a name (the live state itself carries member ids only).
import { api, ApiError, clock, el, hm, enableLogout, fail, pick, showContent, showMessage, svg, t, whoAmI } from './common.js';

const LIVE_PARTS = ['spaces', 'presence', 'desks', 'machines', 'devices'];

/** The state with a change applied: entries replaced one by one (core/usage/live.ts applyLiveChange). */
function applyChange(state, change) {
  const next = { ...state, at: change.at, totals: change.totals ?? state.totals };
  for (const part of LIVE_PARTS) next[part] = { ...state[part], ...change[part] };
  return next;
}

function draw(plan) {
  const root = svg('svg', { viewBox: `0 0 ${plan.width} ${plan.height}`, class: 'floor', role: 'img', 'aria-label': pick(plan.site.name, plan.site.nameZh) });
  const refs = { desks: new Map(), machines: new Map(), doors: new Map(), counts: new Map() };
  for (const s of plan.spaces) {
    const g = svg('g', { class: `space kind-${s.kind}`, 'data-space': s.id });
    g.append(
      svg('rect', { class: 'room', x: s.x, y: s.y, width: s.w, height: s.h, rx: 6 }),
      svg('rect', { class: 'room-header', x: s.x, y: s.y, width: s.w, height: s.headerH, rx: 6 }),
      svg('text', { class: 'room-name', x: s.x + 10, y: s.y + 18 }, pick(s.name, s.nameZh)),
    );
    const counts = svg('text', { class: 'room-counts', x: s.x + 10, y: s.y + 36, 'data-counts': s.id });
    g.append(counts);
    refs.counts.set(s.id, counts);
    root.append(g);
  }
  for (const d of plan.desks) {
    const title = svg('title');
    const r = svg('rect', { class: `desk desk-${d.kind}`, x: d.x, y: d.y, width: d.w, height: d.h, rx: 3, 'data-desk': d.id, 'data-state': 'unknown' }, title);
    root.append(r);
    refs.desks.set(d.id, { el: r, title, def: d });
  }
  for (const m of plan.machines) {
    const title = svg('title');
    const name = pick(m.name, m.nameZh);
    const label = fit(name, 9);
    const g = svg(
      'g',
      { class: 'machine', 'data-machine': m.id, 'data-state': 'unknown' },
      title,
      svg('rect', { x: m.x, y: m.y, width: m.w, height: m.h, rx: 8 }),
      svg('text', { x: m.x + m.w / 2, y: m.y + m.h / 2 + 3, 'text-anchor': 'middle' }, label),
    );
    root.append(g);
    refs.machines.set(m.id, { el: g, title, def: m, name });
  }
  for (const d of plan.doors) {
    const title = svg('title');
    const r = svg('rect', { class: 'door', x: d.x, y: d.y, width: d.w, height: d.h, rx: 2, 'data-door': d.id, 'data-state': 'unknown' }, title);
    root.append(r);
    refs.doors.set(d.id, { el: r, title, def: d });
  }
  document.getElementById('plan').append(root);
  return refs;
}

/** The name cut to about `width` Latin letters' room (a CJK character takes nearly two). */
function fit(text, width) {
  let used = 0;
  let out = '';
  for (const ch of text) {
    used += /[\u2e80-\u9fff\uff00-\uffef]/.test(ch) ? 1.8 : 1;
    if (used > width - 1) return `${out.trimEnd()}…`;
    out += ch;
  }
  return out;
}

function legend() {
  const item = (cls, state, label) =>
    el('li', {}, (() => {
      const s = svg('svg', { width: 22, height: 14, 'aria-hidden': 'true' });
      const shape = cls === 'machine' ? svg('g', { class: 'machine', 'data-state': state }, svg('rect', { x: 1, y: 1, width: 20, height: 12, rx: 4 })) : svg('rect', { class: cls, 'data-state': state, x: 1, y: 1, width: 20, height: 12, rx: 2 });
      s.append(shape);
      return s;
    })(), ` ${label}`);
  const list = el('ul', {});
  for (const s of ['occupied', 'vacant', 'unknown']) list.append(item('desk', s, `${t('desk', { id: '' }).trim()}: ${t(`state.${s}`)}`));
  for (const s of ['running', 'idle', 'off', 'unknown']) list.append(item('machine', s, t(`state.${s}`)));
  for (const s of ['online', 'offline', 'unknown']) list.append(item('door', s, `${t('door', { name: '' }).trim()}: ${t(`state.${s}`)}`));
  document.getElementById('legend').append(el('h2', {}, t('legend')), list);
}

function doorStatus(devices, state) {
  const statuses = devices.map((id) => state.devices[id]?.status ?? 'unknown');
  if (statuses.includes('offline')) return 'offline';
  if (statuses.includes('online')) return 'online';
  return 'unknown';
}

function countsText(s) {
  const parts = [s.capacity === null ? t('space.people', { people: s.people }) : t('space.peopleCap', { people: s.people, capacity: s.capacity })];
  if (s.desks > 0) parts.push(t('space.desks', { occupied: s.desksOccupied, desks: s.desks }));
  if (s.machines > 0) parts.push(t('space.machines', { inUse: s.machinesInUse, machines: s.machines }));
  return parts.join(' · ');
}

async function main() {
  await whoAmI();
  enableLogout();
  const plan = await api('/api/v1/floorplan');
  const siteName = pick(plan.site.name, plan.site.nameZh);
  document.getElementById('site-name').textContent = `${t('floor.title')} · ${siteName}`;
  document.title = `${t('floor.title')} · ${siteName}`;
  const refs = draw(plan);
  legend();
  const spaceName = new Map(plan.spaces.map((s) => [s.id, pick(s.name, s.nameZh)]));
  const who = document.getElementById('who');
  who.hidden = false;
  showContent();

  // Names (admins and managers only): asked for again only when a member id appears that was not asked about.
  const names = new Map();
  const asked = new Set();
  let fetching = false;
  let state = null;

  const nameOf = (id) => {
    const n = names.get(id);
    return n ? pick(n.name, n.nameZh) : t('who.unknownMember');
  };

  const memberIds = (s) => {
    const ids = new Set();
    for (const list of Object.values(s.presence)) for (const p of list) if (p.memberId) ids.add(p.memberId);
    for (const m of Object.values(s.machines)) if (m.memberId) ids.add(m.memberId);
    return ids;
  };

  function askNames(s) {
    if (!plan.viewer.names || fetching) return;
    const missing = [...memberIds(s)].filter((id) => !asked.has(id));
    if (missing.length === 0) return;
    fetching = true;
    for (const id of missing) asked.add(id);
    api('/api/v1/floorplan/people').then(
      (r) => {
        for (const [id, n] of Object.entries(r.members)) names.set(id, n);
        fetching = false;
        if (state) {
          renderWho(state);
          askNames(state);
        }
      },
      () => {
        fetching = false;
      },
    );
  }

  function renderWho(s) {
    if (!plan.viewer.names) {
      who.replaceChildren(el('p', { class: 'note' }, t('who.hidden')));
      return;
    }
    const out = [el('h2', {}, t('who.title'))];
    let anyone = false;
    for (const sp of plan.spaces) {
      const inside = s.presence[sp.id] ?? [];
      const using = plan.machines.filter((m) => m.space === sp.id && s.machines[m.id]?.memberId);
      if (inside.length === 0 && using.length === 0) continue;
      anyone = true;
      const list = el('ul', {});
      for (const p of inside) list.append(el('li', { 'data-member': p.memberId }, `${nameOf(p.memberId)} · ${hm(p.since, plan.site.timezone)}`));
      for (const m of using) list.append(el('li', { class: 'at-machine', 'data-member': s.machines[m.id].memberId }, t('who.at', { machine: refs.machines.get(m.id).name, name: nameOf(s.machines[m.id].memberId) })));
      out.push(el('section', { 'data-who': sp.id }, el('h3', {}, spaceName.get(sp.id)), list));
    }
    if (!anyone) out.push(el('p', { class: 'note' }, t('who.nobody')));
    who.replaceChildren(...out);
  }

  function render(s) {
    for (const [id, r] of refs.desks) {
      const st = s.desks[id]?.state ?? 'unknown';
      r.el.setAttribute('data-state', st);
      r.title.textContent = `${t('desk', { id })} · ${t(`state.${st}`)}`;
    }
    for (const [id, r] of refs.machines) {
      const m = s.machines[id];
      const st = m?.state ?? 'unknown';
      r.el.setAttribute('data-state', st);
      const user = plan.viewer.names && m?.memberId ? ` · ${nameOf(m.memberId)}` : '';
      r.title.textContent = `${r.name} · ${t(`state.${st}`)}${user}`;
    }
    for (const [, r] of refs.doors) {
      const st = doorStatus(r.def.devices, s);
      r.el.setAttribute('data-state', st);
      r.title.textContent = `${t('door', { name: r.def.name ?? r.def.id })} · ${t(`state.${st}`)}`;
    }
    for (const [id, text] of refs.counts) {
      const c = s.spaces[id];
      if (!c) continue;
      text.textContent = countsText(c);
      text.setAttribute('data-people', c.people);
      text.setAttribute('data-desks', c.desks);
      text.setAttribute('data-desks-occupied', c.desksOccupied);
      text.setAttribute('data-machines', c.machines);
      text.setAttribute('data-machines-in-use', c.machinesInUse);
      text.classList.toggle('over', c.capacity !== null && c.people >= c.capacity);
    }
    const tot = s.totals;
    document.getElementById('totals').textContent = t('totals', { people: tot.people, desksOccupied: tot.desksOccupied, desks: tot.desks, machinesRunning: tot.machinesRunning, machines: tot.machines });
    renderWho(s);
    askNames(s);
  }

  const status = document.getElementById('status');
  const setStatus = (connection, text) => {
    status.setAttribute('data-connection', connection);
    status.textContent = text;
  };

  const source = new EventSource('/api/v1/live/stream');
  const received = () => setStatus('live', `${t('live.connected')} · ${t('live.updated', { time: clock(Date.now()) })}`);
  source.addEventListener('snapshot', (ev) => {
    state = JSON.parse(ev.data);
    render(state);
    received();
  });
  source.addEventListener('change', (ev) => {
    if (!state) return;
    state = applyChange(state, JSON.parse(ev.data));
    render(state);
    received();
  });
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused outright (no gateway here, or the session ended): ask once more to say why.
      api('/api/v1/live').then(
        () => window.location.reload(),
        (err) => {
          if (err instanceof ApiError && err.status === 401) window.location.reload();
          else {
            setStatus('down', '');
            fail(err);
          }
        },
      );
    } else setStatus('reconnecting', t('live.reconnecting'));
  });
}

main().catch((err) => {
  showMessage('');
  fail(err);
});
