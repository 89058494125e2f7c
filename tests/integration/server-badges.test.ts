/** Badges over HTTP: issuing (canonical card ids, one holder per card), whose card is this, lost/blocked/returned, own badges only for members. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

type Problem = { code: string; detail: string; errors?: { path: string; message: string }[] };
type Badge = { id: string; memberId: string; memberNo: string; format: string; credential: string; status: string; note: string | null };

describe('POST /members/:id/badges', () => {
  it.each([
    ['uid', '04a1b2c3d4e5f6', '04A1B2C3D4E5F6'],
    ['em4100', ' 1a2b3c4d5e ', '1A2B3C4D5E'],
    ['wiegand26', '007:00123', '7:123'],
  ])('issues a %s badge in the gateway’s canonical form (%s → %s)', async (format, credential, canonical) => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, { format, credential, issuedOn: '2026-11-25' });
    expect(res.statusCode).toBe(201);
    const b = res.json<Badge>();
    expect(b).toMatchObject({ memberId: s.seed.members.b, memberNo: 'M-0002', memberName: 'Li Si', format, credential: canonical, status: 'active', issuedOn: '2026-11-25', note: null });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ entity: 'badge', entityId: b.id, action: 'create', actor: 'user:manager', before: null, after: { format, credential: canonical, status: 'active' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
  });

  it.each([
    ['uid', '04A1B2C'],
    ['em4100', '0A1B2C3D4G'],
    ['wiegand26', '256:1'],
    ['wiegand26', '1:65536'],
  ])('refuses a %s credential that is not a card id (400): %s', async (format, credential) => {
    const res = await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, { format, credential, issuedOn: '2026-11-25' });
    expect(res.statusCode).toBe(400);
    const p = res.json<Problem>();
    expect(p.errors?.[0]?.path).toBe('body/credential');
    expect(p.detail).toMatch(new RegExp(`is not a ${format} card id: expected`));
  });

  it('refuses a card held by someone, naming the holder (409); the same card read as another format is another credential', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, { format: 'em4100', credential: '0a1b2c3d4e', issuedOn: '2026-11-25' });
    expect(res.statusCode).toBe(409);
    expect(res.json<Problem>().detail).toBe(`the em4100 card 0A1B2C3D4E is held by member M-0001 (badge ${s.seed.badges.a}, active); mark that badge returned first`);
    expect(await s.lastChangeId()).toBe(before);
  });

  it.each([
    [{ format: 'mifare', credential: '04A1B2C3', issuedOn: '2026-11-25' }, 'body/format'],
    [{ format: 'uid', credential: '04A1B2C3' }, 'body'],
    [{ format: 'uid', credential: '04A1B2C3', issuedOn: '25/11/2026' }, 'body/issuedOn'],
    [{ format: 'uid', credential: '04A1B2C3', issuedOn: '2026-11-25', colour: 'red' }, 'body'],
  ])('validates the body (400): %j', async (body, path) => {
    const res = await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, body);
    expect(res.statusCode).toBe(400);
    expect(res.json<Problem>().errors?.some((e) => e.path === path)).toBe(true);
  });

  it('needs a member (404) and a writer (403 for auditors and members, even for themselves)', async () => {
    const body = { format: 'uid', credential: 'DEADBEEF', issuedOn: '2026-11-25' };
    expect((await s.request('admin', 'POST', '/api/v1/members/mem_nobody/badges', body)).statusCode).toBe(404);
    expect((await s.request('auditor', 'POST', `/api/v1/members/${s.seed.members.a}/badges`, body)).statusCode).toBe(403);
    expect((await s.request('memberA', 'POST', `/api/v1/members/${s.seed.members.a}/badges`, body)).statusCode).toBe(403);
  });
});

describe('GET /members/:id/badges and /me/badges', () => {
  it('lets a member list their own badges', async () => {
    for (const url of [`/api/v1/members/${s.seed.members.a}/badges`, '/api/v1/me/badges']) {
      const res = await s.request('memberA', 'GET', url);
      expect(res.statusCode).toBe(200);
      expect(res.json<Badge[]>().map((b) => b.id)).toEqual([s.seed.badges.a]);
    }
  });

  it('answers a member reaching for another member’s badges with 404', async () => {
    const res = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.b}/badges`);
    expect(res.statusCode).toBe(404);
    expect(res.json<Problem>().detail).toBe(`member ${s.seed.members.b} does not exist`);
  });

  it('lets staff list anyone’s; 404 for nobody; /me is for members', async () => {
    expect((await s.request('auditor', 'GET', `/api/v1/members/${s.seed.members.b}/badges`)).json<Badge[]>().length).toBeGreaterThanOrEqual(1);
    expect((await s.request('auditor', 'GET', '/api/v1/members/mem_nobody/badges')).statusCode).toBe(404);
    expect((await s.request('auditor', 'GET', '/api/v1/me/badges')).statusCode).toBe(403);
  });
});

describe('GET /badges (whose card is this?)', () => {
  it('finds the holder of a card in its canonical form, with or without the format', async () => {
    for (const q of ['format=em4100&credential=0a1b2c3d4e', 'credential=0a1b2c3d4e']) {
      const res = await s.request('auditor', 'GET', `/api/v1/badges?${q}`);
      expect(res.statusCode).toBe(200);
      expect(res.json<Badge[]>().map((b) => [b.memberNo, b.id])).toEqual([['M-0001', s.seed.badges.a]]);
    }
  });

  it('filters by format and status', async () => {
    const res = await s.request('admin', 'GET', '/api/v1/badges?format=uid&status=active&limit=200');
    const list = res.json<Badge[]>();
    expect(list.length).toBeGreaterThanOrEqual(1);
    expect(list.every((b) => b.format === 'uid' && b.status === 'active')).toBe(true);
  });

  it('says when the text is not a card id at all (400)', async () => {
    const res = await s.request('admin', 'GET', '/api/v1/badges?credential=hello');
    expect(res.statusCode).toBe(400);
    expect(res.json<Problem>().errors?.[0]?.path).toBe('querystring/credential');
    expect((await s.request('admin', 'GET', '/api/v1/badges?format=em4100&credential=12')).statusCode).toBe(400);
  });

  it('is for staff', async () => {
    expect((await s.request('memberA', 'GET', '/api/v1/badges')).statusCode).toBe(403);
  });
});

describe('PATCH /badges/:id', () => {
  let lost: string;
  beforeAll(async () => {
    lost = (await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.a}/badges`, { format: 'uid', credential: 'CAFEF00D', issuedOn: '2026-01-01' })).json<Badge>().id;
  });

  it('marks a badge lost with a note, logging before and after', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'PATCH', `/api/v1/badges/${lost}`, { status: 'lost', note: '丢失 reported by phone' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'lost', note: '丢失 reported by phone' });
    const [c] = await s.changesAfter(before);
    expect(c).toMatchObject({ entity: 'badge', entityId: lost, action: 'update', before: { status: 'active', note: null }, after: { status: 'lost', note: '丢失 reported by phone' } });
    expect(s.policyVersions.at(-1)).toBe(c!.id);
  });

  it('keeps a lost card held: nobody else may get it', async () => {
    const res = await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, { format: 'uid', credential: 'cafef00d', issuedOn: '2026-11-25' });
    expect(res.statusCode).toBe(409);
  });

  it('frees the card once the badge is returned; taking it back is then 409', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${lost}`, { status: 'returned' })).statusCode).toBe(200);
    const reissued = await s.request('admin', 'POST', `/api/v1/members/${s.seed.members.b}/badges`, { format: 'uid', credential: 'cafef00d', issuedOn: '2026-11-25' });
    expect(reissued.statusCode).toBe(201);
    const back = await s.request('admin', 'PATCH', `/api/v1/badges/${lost}`, { status: 'active' });
    expect(back.statusCode).toBe(409);
    expect(back.json<Problem>().detail).toMatch(/held by member M-0002/);
    // Whose card is this? Both badges show, the returned one and the live one.
    const history = (await s.request('auditor', 'GET', '/api/v1/badges?format=uid&credential=CAFEF00D')).json<Badge[]>();
    expect(history.map((b) => [b.memberNo, b.status])).toEqual([
      ['M-0001', 'returned'],
      ['M-0002', 'active'],
    ]);
  });

  it('clears a note with null; blocks a badge', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { status: 'blocked', note: 'unpaid' })).json()).toMatchObject({ status: 'blocked', note: 'unpaid' });
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${s.seed.badges.b}`, { status: 'active', note: null })).json()).toMatchObject({ status: 'active', note: null });
  });

  it('validates (400), needs a badge (404) and a writer (403)', async () => {
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${lost}`, {})).statusCode).toBe(400);
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${lost}`, { status: 'destroyed' })).statusCode).toBe(400);
    expect((await s.request('admin', 'PATCH', `/api/v1/badges/${lost}`, { credential: 'DEADBEEF' })).statusCode).toBe(400);
    expect((await s.request('admin', 'PATCH', '/api/v1/badges/bdg_nope', { status: 'lost' })).statusCode).toBe(404);
    expect((await s.request('auditor', 'PATCH', `/api/v1/badges/${lost}`, { status: 'lost' })).statusCode).toBe(403);
    expect((await s.request('memberA', 'PATCH', `/api/v1/badges/${s.seed.badges.a}`, { status: 'lost' })).statusCode).toBe(403);
  });

  it('has the database enforce one holder per card as well', async () => {
    await expect(
      s.db.insertInto('badges').values({ id: 'bdg_dupe', member_id: s.seed.members.b, format: 'em4100', credential: '0A1B2C3D4E', status: 'active', issued_on: '2026-11-25', note: null, created_at: 0, updated_at: 0 }).execute(),
    ).rejects.toThrow(/UNIQUE/);
  });
});
