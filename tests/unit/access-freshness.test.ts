import { describe, expect, it } from 'vitest';
import { SwipeFreshness } from '../../core/access/freshness.js';

const T = Date.UTC(2026, 10, 25, 9);
const HOUR = 3600_000;

describe('SwipeFreshness: a live swipe or a delivered backlog', () => {
  it('takes a device whose clock is hours wrong as live, whatever the skew, with network jitter', () => {
    const f = new SwipeFreshness();
    for (const skew of [-3 * HOUR, 0, 5 * 365 * 24 * HOUR]) {
      const dev = `reader-${skew}`;
      for (let i = 0; i < 50; i++) {
        const sent = T + i * 60_000;
        const jitter = (i * 37) % 250; // 0–250 ms on the way
        expect(f.observe(dev, sent + jitter, sent - skew).live).toBe(true);
      }
    }
  });

  it('refuses a backlog a reader delivers after an outage, and takes live swipes again right after', () => {
    const f = new SwipeFreshness();
    const skew = 7 * 60_000; // the device clock is 7 minutes slow
    for (let i = 0; i < 10; i++) f.observe('r', T + i * 60_000 + 20, T + i * 60_000 - skew);
    // 20 minutes offline; then 20 queued messages (one a minute) arrive within a second.
    const back = T + 30 * 60_000;
    for (let i = 0; i < 20; i++) {
      const sentAt = T + 10 * 60_000 + i * 60_000;
      const r = f.observe('r', back + i * 30, sentAt - skew);
      expect(r.live).toBe(false);
      expect(r.latenessMs).toBeGreaterThan(60_000);
    }
    // A member at the reader now.
    expect(f.observe('r', back + 2000, back + 1990 - skew)).toMatchObject({ live: true });
  });

  it('refuses a single swipe held back 15 s, takes one 5 s late (default limit 10 s)', () => {
    const f = new SwipeFreshness();
    for (let i = 0; i < 5; i++) f.observe('r', T + i * 1000 + 10, T + i * 1000);
    expect(f.observe('r', T + 20_000, T + 5000).live).toBe(false);
    expect(f.observe('r', T + 30_000, T + 25_000).live).toBe(true);
  });

  it('follows a clock stepped back once consistent live messages confirm it over 90 s, not before', () => {
    const f = new SwipeFreshness();
    for (let i = 0; i < 5; i++) f.observe('r', T + i * 60_000 + 5, T + i * 60_000);
    // The RTC is reset one hour back: heartbeats every minute now read an hour behind.
    const stepAt = T + 5 * 60_000;
    const seen = [0, 1, 2, 3].map((i) => f.observe('r', stepAt + i * 60_000 + 5, stepAt + i * 60_000 - HOUR).live);
    // 3 consistent messages over ≥ 90 s confirm the step at the third (120 s after the first).
    expect(seen).toEqual([false, false, true, true]);
  });

  it('follows a clock stepped forward at once', () => {
    const f = new SwipeFreshness();
    for (let i = 0; i < 5; i++) f.observe('r', T + i * 60_000 + 5, T + i * 60_000);
    expect(f.observe('r', T + 6 * 60_000, T + 6 * 60_000 + HOUR).live).toBe(true);
    expect(f.observe('r', T + 7 * 60_000, T + 7 * 60_000 + HOUR).live).toBe(true);
  });

  it('never mistakes a long backlog for a clock step: its offsets fall message by message', () => {
    const f = new SwipeFreshness();
    for (let i = 0; i < 5; i++) f.observe('r', T + i * 60_000 + 5, T + i * 60_000);
    // 3 hours of heartbeats queued, delivered slowly (a poor link): 180 messages over 3 minutes.
    const back = T + 4 * HOUR;
    let live = 0;
    for (let i = 0; i < 180; i++) if (f.observe('r', back + i * 1000, T + HOUR + i * 60_000).live) live++;
    expect(live).toBe(0);
  });

  it('follows slow clock drift (100 ppm over a week) without refusing anything', () => {
    const f = new SwipeFreshness();
    for (let i = 0; i < 7 * 24 * 60; i++) {
      const at = T + i * 60_000;
      const drift = i * 60_000 * 1e-4;
      expect(f.observe('r', at + 15, at - drift).live).toBe(true);
    }
  });

  it('keeps devices apart', () => {
    const f = new SwipeFreshness();
    f.observe('a', T, T);
    f.observe('b', T, T - HOUR);
    expect(f.observe('a', T + 1000, T + 990).live).toBe(true);
    expect(f.observe('b', T + 1000, T + 990 - HOUR).live).toBe(true);
    expect(f.observe('a', T + 2000, T + 990 - HOUR).live).toBe(false);
  });
});
