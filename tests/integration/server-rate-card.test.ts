/**
 * The rate card routes (server/routes/rate-card.ts): stored whole and kept,
 * checked by core/accounting/rates.ts with every problem named by path,
 * readable by every role, written by administrators and managers, logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s?.close();
});

const card = {
  currency: 'CNY',
  versions: [
    {
      effectiveFrom: '2026-11-01',
      rates: [
        { resourceClass: 'desk:hot', unit: 'day', priceMinor: 500, referencePriceMinor: 5000 },
        { resourceClass: 'machine:laser-cutter', unit: 'hour', priceMinor: 3000, referencePriceMinor: 12_000, incrementMinutes: 6, rounding: 'up', overrides: [{ planId: 'incubated', priceMinor: 1500 }] },
      ],
    },
  ],
};

describe('rate card', () => {
  it('before any is stored, says how to store one', async () => {
    const res = await s.request('memberA', 'GET', '/api/v1/rate-card');
    expect(res.statusCode).toBe(404);
    expect(res.json<{ detail: string }>().detail).toMatch(/PUT \/api\/v1\/rate-card/);
  });

  it('a manager stores one; every role reads it; the change log has it', async () => {
    const since = await s.lastChangeId();
    const put = await s.request('manager', 'PUT', '/api/v1/rate-card', card);
    expect(put.statusCode).toBe(201);
    const stored = put.json<{ id: number; card: unknown; createdBy: string }>();
    expect(stored).toMatchObject({ card, createdBy: 'user:manager' });
    for (const who of ['memberA', 'auditor', 'admin'] as const) expect((await s.request(who, 'GET', '/api/v1/rate-card')).json<{ id: number }>().id).toBe(stored.id);
    const [change] = await s.changesAfter(since);
    expect(change).toMatchObject({ entity: 'rate_card', action: 'create', entityId: String(stored.id), before: null, after: card });
  });

  it('refuses a card that does not parse, naming every problem, and keeps the one in force', async () => {
    const before = (await s.request('manager', 'GET', '/api/v1/rate-card')).json<{ id: number }>();
    const twice = { versions: [{ effectiveFrom: '2026-12-01', rates: [card.versions[0]!.rates[0]!, card.versions[0]!.rates[0]!] }] };
    const res = await s.request('admin', 'PUT', '/api/v1/rate-card', twice);
    expect(res.statusCode).toBe(422);
    const errors = res.json<{ errors: { path: string; message: string }[] }>().errors;
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.path).toMatch(/^body\/versions\[0\]\.rates\[1\]/);
    expect((await s.request('manager', 'GET', '/api/v1/rate-card')).json<{ id: number }>().id).toBe(before.id);
    // The JSON schema refuses what is not a card at all.
    expect((await s.request('manager', 'PUT', '/api/v1/rate-card', { versions: [{ effectiveFrom: 'soon', rates: [] }] })).statusCode).toBe(400);
  });

  it('a new card is a new row; the history keeps the old one; only admins and managers write', async () => {
    const next = { ...card, versions: [...card.versions, { effectiveFrom: '2027-01-01', rates: [{ resourceClass: 'desk:hot', unit: 'day', priceMinor: 600, referencePriceMinor: 5000 }] }] };
    const put = await s.request('admin', 'PUT', '/api/v1/rate-card', next);
    expect(put.statusCode).toBe(201);
    const history = (await s.request('auditor', 'GET', '/api/v1/rate-card/history')).json<{ id: number; card: unknown }[]>();
    expect(history.map((h) => h.card)).toEqual([next, card]);
    expect((await s.request('auditor', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(403);
    expect((await s.request('memberA', 'PUT', '/api/v1/rate-card', card)).statusCode).toBe(403);
    expect((await s.request('memberA', 'GET', '/api/v1/rate-card/history')).statusCode).toBe(403);
  });
});
