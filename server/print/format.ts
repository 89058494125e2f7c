/**
 * Formatting for the printable pages: HTML escaping, money from integer minor
 * units, quantities and local dates. No I/O; the clock and time zone are
 * arguments.
 */
import { hasMessage, msg, type Lang } from './messages.js';

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text made safe for HTML element content and for quoted attribute values:
 * the five characters that can end either are replaced by references. Every
 * value that is not a constant of this module or messages.ts goes through it
 * (member and team names are user input).
 */
export function esc(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(lang: Lang, currency: string): Intl.NumberFormat {
  const key = `${lang}|${currency}`;
  let f = moneyFormats.get(key);
  if (!f) {
    // narrowSymbol: "¥" for CNY in both languages, not "CN¥", as on Chinese invoices.
    f = new Intl.NumberFormat(lang, { style: 'currency', currency, currencyDisplay: 'narrowSymbol' });
    moneyFormats.set(key, f);
  }
  return f;
}

/**
 * An amount in integer minor units (fen for CNY) as the locale writes money:
 * 123450 CNY → "¥1,234.50". The minor units are turned into an exact decimal
 * string (never divided as a float), so any safe integer prints exactly.
 */
export function formatMoney(minor: number, currency: string, lang: Lang): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`money must be an integer number of minor units, got ${minor}`);
  const f = moneyFormat(lang, currency);
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  const abs = String(Math.abs(minor)).padStart(digits + 1, '0');
  const decimal = digits === 0 ? abs : `${abs.slice(0, -digits)}.${abs.slice(-digits)}`;
  return f.format(`${minor < 0 ? '-' : ''}${decimal}` as Intl.StringNumericLiteral);
}

/** A plain number in the locale, at most `maxDigits` decimals. */
export function formatNumber(n: number, lang: Lang, maxDigits = 2): string {
  return new Intl.NumberFormat(lang, { maximumFractionDigits: maxDigits }).format(n);
}

export type QuantityUnit = 'minute' | 'day' | 'wh' | 'booking';

/** A statement quantity in the unit people read: minutes as hours, Wh as kWh, days as days. */
export function formatQuantity(quantity: number, unit: QuantityUnit, lang: Lang): string {
  switch (unit) {
    case 'minute':
      return msg(lang, 'unit.hour', { n: formatNumber(quantity / 60, lang, 2) });
    case 'day':
      return msg(lang, 'unit.day', { n: formatNumber(quantity, lang, 0) });
    case 'wh':
      return msg(lang, 'unit.kwh', { n: formatNumber(quantity / 1000, lang, 3) });
    case 'booking':
      return msg(lang, 'unit.noShow', { n: formatNumber(quantity, lang, 0) });
  }
}

/** A unit price per hour, day or kWh. */
export function formatUnitPrice(minor: number, unit: QuantityUnit, currency: string, lang: Lang): string {
  const price = formatMoney(minor, currency, lang);
  return msg(lang, unit === 'minute' ? 'per.hour' : unit === 'day' ? 'per.day' : unit === 'booking' ? 'per.noShow' : 'per.kwh', { price });
}

/** A resource class as people say it: known classes by name, other machines by their class, anything else as it is. */
export function resourceLabel(resourceClass: string, lang: Lang): string {
  const key = `class.${resourceClass}`;
  if (hasMessage(key)) return msg(lang, key);
  if (resourceClass.startsWith('machine:')) return msg(lang, 'class.machine', { class: resourceClass.slice('machine:'.length) });
  return resourceClass;
}

/** A claim category's label, or the category itself when the catalogue does not know it yet. */
export function categoryLabel(category: string, lang: Lang): string {
  const key = `category.${category}`;
  return hasMessage(key) ? msg(lang, key) : category;
}

/** The local date (YYYY-MM-DD) of an instant in a time zone. */
export function localDate(ms: number, timezone: string): string {
  // en-CA writes dates as YYYY-MM-DD.
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}

/** A local date and time (to the minute) with the zone's offset, in the page's language. */
export function localDateTime(ms: number, timezone: string, lang: Lang): string {
  return new Intl.DateTimeFormat(lang, {
    timeZone: timezone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'shortOffset',
  }).format(ms);
}
