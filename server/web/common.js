// Shared by the floor plan and member pages (served as a file; no build step).
// Everything shown is set as text (textContent, attributes), never as markup:
// names come from users.

const messagesEl = document.getElementById('messages');
const MESSAGES = messagesEl ? JSON.parse(messagesEl.textContent || '{}') : {};

export const LANG = document.documentElement.lang === 'zh-CN' ? 'zh-CN' : 'en';

/** A message of the page's catalogue with {placeholders} filled in. */
export function t(key, vars = {}) {
  const text = MESSAGES[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** The name to show in the page's language: the Chinese one on zh-CN pages when there is one. */
export function pick(name, nameZh) {
  return LANG === 'zh-CN' && nameZh ? nameZh : name;
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

/** GET (or POST with a JSON body) against the API with the session cookie; JSON back, or an ApiError. */
export async function api(path, body) {
  const init = { credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let detail = `${res.status}`;
    try {
      const p = await res.json();
      if (p && typeof p.detail === 'string') detail = p.detail;
    } catch {
      // Not a problem document: keep the status.
    }
    throw new ApiError(res.status, detail);
  }
  return res.status === 204 ? null : res.json();
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs = {}, ...children) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

/** A date and time, in the site's time zone when given (else the browser's). */
export function when(ms, timeZone) {
  return new Intl.DateTimeFormat(LANG, { ...(timeZone && { timeZone }), month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }).format(new Date(ms));
}

/** A time of day, hours and minutes, in the site's time zone when given. */
export function hm(ms, timeZone) {
  return new Intl.DateTimeFormat(LANG, { ...(timeZone && { timeZone }), hour: '2-digit', minute: '2-digit' }).format(new Date(ms));
}

/** A time of day, with seconds (when the page last heard from the server). */
export function clock(ms, timeZone) {
  return new Intl.DateTimeFormat(LANG, { ...(timeZone && { timeZone }), hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(ms));
}

export function showMessage(text) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.hidden = text === '';
}

/**
 * Shows the login form; resolves once the user has logged in (the session
 * cookie is set by the server: httpOnly, SameSite=Strict).
 */
export function login() {
  showMessage('');
  const form = document.getElementById('login');
  const error = document.getElementById('login-error');
  form.hidden = false;
  return new Promise((resolve) => {
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const data = new FormData(form);
      api('/api/v1/auth/login', { username: String(data.get('username')), password: String(data.get('password')) }).then(
        (me) => {
          form.hidden = true;
          error.hidden = true;
          resolve(me);
        },
        () => {
          error.hidden = false;
        },
      );
    });
  });
}

/** Who is logged in; shows the login form first when nobody is. */
export async function whoAmI() {
  try {
    return await api('/api/v1/auth/me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return login();
    throw err;
  }
}

export function enableLogout() {
  const b = document.getElementById('logout');
  b.hidden = false;
  b.addEventListener('click', () => {
    api('/api/v1/auth/logout', {}).finally(() => window.location.reload());
  });
}

export function showContent() {
  showMessage('');
  document.getElementById('content').hidden = false;
}

export function fail(err) {
  const detail = err instanceof Error ? err.message : String(err);
  showMessage(err instanceof ApiError && err.status === 503 ? t('unavailable', { detail }) : t('error', { detail }));
}
