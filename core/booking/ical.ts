/**
 * iCalendar (RFC 5545) feeds of bookings: one VCALENDAR, one VEVENT per
 * booking. Pure: the events and the stamp time are handed in.
 *
 * - Lines end in CRLF and are folded at 75 octets (§3.1), never inside a
 *   UTF-8 sequence; text values escape backslash, semicolon, comma and
 *   newline (§3.3.11).
 * - Times are UTC date-times (§3.3.5, form #2), so no VTIMEZONE is needed.
 * - A booking's UID is stable (its id and the host), so a client that
 *   subscribes updates events in place; a cancelled booking stays in the feed
 *   with STATUS:CANCELLED so clients remove it (§3.8.1.11).
 */
export interface CalendarEvent {
  readonly uid: string;
  readonly from: number;
  readonly to: number;
  readonly summary: string;
  readonly description?: string;
  readonly location?: string;
  readonly status: 'CONFIRMED' | 'TENTATIVE' | 'CANCELLED';
  /** When the booking last changed (LAST-MODIFIED), epoch ms. */
  readonly modified: number;
}

export function icsDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

export function icsText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/;/g, '\\;').replace(/,/g, '\\,').replace(/\r?\n/g, '\\n');
}

const encoder = new TextEncoder();

/** Folds a content line at 75 octets: CRLF and one space before each continuation (§3.1). */
export function foldLine(line: string): string {
  if (encoder.encode(line).length <= 75) return line;
  const parts: string[] = [];
  let current = '';
  let octets = 0;
  for (const ch of line) {
    const n = encoder.encode(ch).length;
    // The first line holds 75 octets; continuations 74 after their leading space.
    const limit = parts.length === 0 ? 75 : 74;
    if (octets + n > limit) {
      parts.push(current);
      current = '';
      octets = 0;
    }
    current += ch;
    octets += n;
  }
  parts.push(current);
  return parts.join('\r\n ');
}

export function toICalendar(name: string, events: readonly CalendarEvent[], stamp: number): string {
  const lines = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//OpenFacility//Bookings//EN', 'CALSCALE:GREGORIAN', 'METHOD:PUBLISH', `X-WR-CALNAME:${icsText(name)}`];
  for (const e of events) {
    lines.push(
      'BEGIN:VEVENT',
      `UID:${e.uid}`,
      `DTSTAMP:${icsDate(stamp)}`,
      `DTSTART:${icsDate(e.from)}`,
      `DTEND:${icsDate(e.to)}`,
      `SUMMARY:${icsText(e.summary)}`,
      ...(e.description !== undefined ? [`DESCRIPTION:${icsText(e.description)}`] : []),
      ...(e.location !== undefined ? [`LOCATION:${icsText(e.location)}`] : []),
      `STATUS:${e.status}`,
      `LAST-MODIFIED:${icsDate(e.modified)}`,
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR');
  return lines.map(foldLine).join('\r\n') + '\r\n';
}
