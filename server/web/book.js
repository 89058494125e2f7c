// The public booking page (/book): no login. Reads what is free from
// GET /api/v1/public/bookings/availability (no names, no member ids) and sends
// a visitor's request to POST /api/v1/public/bookings/requests. Times are the
// site's local time, whatever the visitor's browser is set to.
import { api, el, fail, hm, pick, showContent, t, when } from './common.js';

/** The instant whose wall-clock time in `timeZone` is the given date and time (YYYY-MM-DD, HH:MM). */
function instantOf(date, time, timeZone) {
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi] = time.split(':').map(Number);
  const guess = Date.UTC(y, mo - 1, d, h, mi);
  // The zone's offset at the guess, then once more at the corrected instant (a change of offset between them).
  const offsetAt = (ms) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
    return Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute)) - ms;
  };
  const first = guess - offsetAt(guess);
  return guess - offsetAt(first);
}

/** A resource's label: its kind and name (a desk's name says it is a desk already). */
const label = (r) => (r.type === 'desk' ? pick(r.name, r.nameZh) : `${t(`book.type.${r.type}`)} · ${pick(r.name, r.nameZh)}`);

function nowCell(r, zone) {
  if (r.outOfService) return el('span', { class: 'state oos' }, t('book.outOfService'));
  if (!r.openNow) return el('span', { class: 'state closed' }, t('book.closed'));
  if (!r.freeNow) return el('span', { class: 'state taken' }, t('book.taken'));
  return el('span', { class: 'state free' }, r.freeUntil === null ? t('book.free') : t('book.freeUntil', { time: when(r.freeUntil, zone) }));
}

function render(data) {
  const zone = data.site.timezone;
  document.getElementById('site-name').textContent = `${t('book.title')} · ${pick(data.site.name, data.site.nameZh)}`;
  document.getElementById('zone').textContent = t('book.timezone', { zone });
  const body = document.querySelector('#availability tbody');
  body.replaceChildren(
    ...data.resources.map((r) => {
      const busy = r.busy.length === 0 ? t('book.none') : r.busy.map((b) => `${when(b.from, zone)}–${hm(b.to, zone)}`).join(', ');
      return el(
        'tr',
        { 'data-resource': `${r.type}:${r.id}` },
        el('td', {}, label(r), el('br'), el('small', {}, t('book.rule', { min: r.rule.minMinutes, max: r.rule.maxMinutes, days: r.rule.aheadDays }))),
        el('td', {}, pick(r.spaceName, r.spaceNameZh)),
        el('td', {}, nowCell(r, zone)),
        el('td', { class: 'busy' }, busy),
      );
    }),
  );
  const select = document.querySelector('#request select[name=resource]');
  select.replaceChildren(...data.resources.filter((r) => !r.outOfService).map((r) => el('option', { value: `${r.type}:${r.id}` }, label(r))));
  const form = document.getElementById('request');
  const result = document.getElementById('request-result');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const [resourceType, resourceId] = String(f.get('resource')).split(':');
    const from = instantOf(String(f.get('date')), String(f.get('start')), zone);
    const to = from + Number(f.get('minutes')) * 60_000;
    result.textContent = '';
    api('/api/v1/public/bookings/requests', { name: String(f.get('name')).trim(), contact: String(f.get('contact')).trim(), resourceType, resourceId, from, to }).then(
      (r) => {
        result.textContent = t('book.sent', { id: r.id });
        result.className = 'result ok';
      },
      (err) => {
        result.textContent = t('error', { detail: err instanceof Error ? err.message : String(err) });
        result.className = 'result error';
      },
    );
  });
}

api('/api/v1/public/bookings/availability')
  .then((data) => {
    render(data);
    showContent();
  })
  .catch(fail);
