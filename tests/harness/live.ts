/**
 * Live state for server tests without a gateway: the example site's state
 * derived (core/usage/live.ts) from given open sessions and device states, and
 * a LiveSource that hands it out and lets the test announce changes.
 */
import { exampleSiteFile } from '../../core/site/example.js';
import type { Site } from '../../core/site/model.js';
import { validateSite } from '../../core/site/validate.js';
import { deriveLive, diffLive, liveModel, type DeviceLive, type LiveChange, type LiveState } from '../../core/usage/live.js';
import type { OpenSessions } from '../../core/usage/sessioniser.js';
import type { LiveSource } from '../../server/routes/live.js';

export function exampleSite(): Site {
  const r = validateSite(exampleSiteFile({ credentialsFor: () => ({ secret: 'env:X' }) }));
  if (!r.ok) throw new Error('the example site is not valid');
  return r.site;
}

export const NOTHING_OPEN: Omit<OpenSessions, 'at'> = { desks: {}, presence: {}, machines: {}, access: {}, offline: {} };

/** The example site's live state at `at`, with `open` sessions and the given devices online since `onlineSince` (the rest unknown). */
export function exampleLive(at: number, open: Partial<Omit<OpenSessions, 'at'>> = {}, online: readonly string[] = [], onlineSince = Date.parse('2026-11-25T00:00:00Z')): LiveState {
  const on = new Set(online);
  const device = (id: string): DeviceLive => (on.has(id) ? { status: 'online', since: onlineSince } : { status: 'unknown', since: null });
  return deriveLive(liveModel(exampleSite()), { at, ...NOTHING_OPEN, ...open }, device);
}

/** A LiveSource whose state the test sets; `set` announces the change to subscribers, as the gateway's live view does. */
export class TestLiveSource implements LiveSource {
  private readonly listeners = new Set<(change: LiveChange) => void>();

  constructor(private state: LiveState) {}

  snapshot(): LiveState {
    return this.state;
  }

  subscribe(listener: (change: LiveChange) => void): () => void {
    const wrapped = (c: LiveChange) => listener(c);
    this.listeners.add(wrapped);
    return () => this.listeners.delete(wrapped);
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  set(next: LiveState): LiveChange | null {
    const change = diffLive(this.state, next);
    this.state = next;
    if (change) for (const l of this.listeners) l(change);
    return change;
  }
}
