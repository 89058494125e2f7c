/**
 * Fuzz (issue 11, hostile input): the CSV imports of members, teams and
 * badges through the whole server (makeTestServer, app.inject).
 *
 * Files: headers in any order and case, with columns missing, doubled or
 * unknown; cells valid, wrong (bad dates, unknown references, duplicates of
 * the file or the database), hostile (quotes, separators and line breaks in
 * cells, formulas, SQL and LIKE metacharacters, NUL, BOM, very long, other
 * scripts); byte-mutated valid files and random text; dry runs and real ones.
 * Properties: never a 5xx; 201/200 with every row written (or none, dry run)
 * or 400/413/415/422 with nothing written (row counts and change log before
 * and after); a 422 lists row errors with a line inside the file; every row
 * written reads back through its GET route.
 */
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_LAYOUTS, type CsvEntity } from '../../server/routes/import-export.js';
import { makeTestServer, type TestServer } from '../harness/server.js';
import { check } from './support.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
  // Durability is not under test here, and an fsync per import would cap the run at a few hundred cases.
  await sql.raw('PRAGMA synchronous = OFF').execute(s.db);
});
afterAll(async () => {
  await s?.close();
});

const TABLES = ['members', 'teams', 'badges'] as const;
async function counts(): Promise<Record<(typeof TABLES)[number] | 'changes', number>> {
  const n = async (t: (typeof TABLES)[number]) => Number((await s.db.selectFrom(t).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
  return { members: await n('members'), teams: await n('teams'), badges: await n('badges'), changes: await s.lastChangeId() };
}

const hostile = fc.constantFrom(
  "'; DROP TABLE members; --",
  '" OR 1=1 --',
  '%',
  '_',
  '\\',
  '=HYPERLINK("http://x")',
  '+1',
  '@SUM(A1)',
  'a\u0000b',
  '\uFEFFx',
  '"quoted, with comma"',
  'line\nbreak',
  'cr\rbreak',
  '张三',
  'مرحبا',
  '\u202Eevil',
  '🦄',
  '  spaced  ',
  'x'.repeat(5000),
);

/** Plausible values per column, valid or nearly so: the fuzz must reach the row checks, not only the parser. */
function columnValue(entity: CsvEntity, column: string): fc.Arbitrary<string> {
  const date = fc.oneof(
    fc.date({ min: new Date('1990-01-01'), max: new Date('2030-12-31'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)),
    fc.constantFrom('2026/3/5', '2026.03.05', '2026-02-30', '2026-13-01', '26-1-1', '', 'today', '2026-1-1'),
  );
  const id = fc.stringMatching(/^[A-Z]{1,2}-\d{1,4}$/);
  switch (column) {
    case 'memberNo':
      return entity === 'badges' ? fc.oneof(fc.constantFrom('M-0001', 'M-0002'), id) : id;
    case 'name':
      return entity === 'teams' ? fc.oneof(fc.constantFrom('Alpha Robotics', 'alpha robotics'), fc.string({ minLength: 1, maxLength: 30 })) : fc.string({ minLength: 1, maxLength: 30 });
    case 'nameZh':
      return fc.oneof(fc.constant(''), fc.constantFrom('阿尔法机器人', '张三', '新团队'));
    case 'email':
      return fc.oneof(fc.constant(''), fc.emailAddress(), fc.constantFrom('not-an-email', 'a@b'));
    case 'phone':
      return fc.oneof(fc.constant(''), fc.constantFrom('+86 138 0000 0101', '13800000000', '=1+1', 'phone'));
    case 'team':
      return fc.oneof(fc.constant(''), fc.constantFrom('Alpha Robotics', '贝塔生物', 'no such team'), fc.constant(s.seed.teams.a));
    case 'status':
      return fc.oneof(fc.constant(''), fc.constantFrom('active', 'suspended', 'left', 'incubating', 'graduated', 'exited', 'lost', 'blocked', 'returned', 'ACTIVE', 'unknown'));
    case 'plan':
      return fc.oneof(fc.constant(''), fc.constantFrom('Standard', '标准会员', 'Gold'), fc.constant(s.seed.plan));
    case 'priceGroup':
      return fc.oneof(fc.constant(''), fc.constantFrom('student', 'staff', 'x y'));
    case 'billTo':
      return fc.oneof(fc.constant(''), fc.constantFrom('team', 'self', 'parent'));
    case 'format':
      return fc.constantFrom('uid', 'em4100', 'wiegand26', 'EM4100', 'mifare', '');
    case 'credential':
      return fc.oneof(
        fc.stringMatching(/^[0-9a-fA-F]{10}$/),
        fc.stringMatching(/^[0-9A-F]{8}$/),
        fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 70000 })).map(([f, c]) => `${f}:${c}`),
        fc.constantFrom('0A1B2C3D4E', '04A1B2C3', 'zz', ''),
      );
    case 'exitReason':
    case 'note':
      return fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }));
    default:
      // dates: joinedOn, planValidFrom/To, leftOn, foundedOn, registeredOn, graduatedOn, exitOn, issuedOn
      return date;
  }
}

function quoteCell(v: string): string {
  return /[",\r\n]/.test(v) || /^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** A CSV file for `entity`: a header (possibly damaged) and rows of plausible, wrong or hostile cells. */
function csvFile(entity: CsvEntity): fc.Arbitrary<string> {
  const layout = CSV_LAYOUTS[entity].map((c) => c.name);
  const header = fc.oneof(
    { weight: 6, arbitrary: fc.shuffledSubarray(layout, { minLength: layout.length, maxLength: layout.length }) },
    { weight: 2, arbitrary: fc.shuffledSubarray(layout, { minLength: 1 }) },
    { weight: 1, arbitrary: fc.tuple(fc.shuffledSubarray(layout, { minLength: 1 }), fc.constantFrom('extra', 'id', 'createdAt', '__proto__', 'constructor', '')).map(([h, x]) => [...h, x]) },
    { weight: 1, arbitrary: fc.constant(layout).map((h) => [...h, h[0]!]) },
    { weight: 1, arbitrary: fc.constant(layout.map((c) => c.toUpperCase())) },
  );
  // Built once: constructing arbitraries (stringMatching, emailAddress) inside chain() costs more than running them.
  const cells = new Map(
    [...layout, 'extra', 'id', 'createdAt', '__proto__', 'constructor', ''].map((c) => [
      c.toLowerCase(),
      fc.oneof({ weight: 8, arbitrary: layout.includes(c) ? columnValue(entity, c) : fc.string({ maxLength: 12 }) }, { weight: 1, arbitrary: hostile }, { weight: 1, arbitrary: fc.string({ maxLength: 12 }) }),
    ]),
  );
  return header.chain((cols) => {
    const row = fc.tuple(...cols.map((c) => cells.get(c.toLowerCase())!)).chain((r) => fc.constantFrom(r, r.slice(0, -1), [...r, 'surplus']));
    return fc.record({
      rows: fc.array(row, { minLength: 0, maxLength: 6 }),
      bom: fc.boolean(),
      nl: fc.constantFrom('\n', '\r\n'),
      trailing: fc.boolean(),
    }).map(({ rows, bom, nl, trailing }) => `${bom ? '\uFEFF' : ''}${[cols, ...rows].map((r) => r.map(quoteCell).join(',')).join(nl)}${trailing ? nl : ''}`);
  });
}

const mutatedBytes = (text: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc.tuple(text, fc.nat(), fc.constantFrom('"', ',', '\n', '\r', '\u0000', '\uFFFD', '""', '\n\n')).map(([t, i, x]) => {
    const at = i % (t.length + 1);
    return t.slice(0, at) + x + t.slice(at);
  });

const GET_ROUTE: Readonly<Record<CsvEntity, (id: string) => string>> = {
  members: (id) => `/api/v1/members/${id}`,
  teams: (id) => `/api/v1/teams/${id}`,
  badges: (id) => `/api/v1/badges/${id}`,
};

describe.each([
  { entity: 'teams' as const, seed: 0xc5f0_0001 },
  { entity: 'members' as const, seed: 0xc5f0_0002 },
  { entity: 'badges' as const, seed: 0xc5f0_0003 },
])('CSV import of $entity', ({ entity, seed }) => {
  it('never 5xx; all rows written or none; row errors point into the file; written rows read back', async () => {
    const outcomes: Record<number, number> = {};
    const file = fc.oneof({ weight: 6, arbitrary: csvFile(entity) }, { weight: 2, arbitrary: mutatedBytes(csvFile(entity)) }, { weight: 1, arbitrary: fc.string({ maxLength: 200 }) });
    await check(
      fc.asyncProperty(file, fc.boolean(), fc.constantFrom('text/csv', 'text/csv', 'text/csv', 'text/csv; charset=utf-8', 'text/plain', 'application/json'), async (text, dryRun, type) => {
        const before = await counts();
        const res = await s.request('manager', 'POST', `/api/v1/import/${entity}${dryRun ? '?dryRun=true' : ''}`, text, { 'content-type': type });
        const after = await counts();
        outcomes[res.statusCode] = (outcomes[res.statusCode] ?? 0) + 1;
        const where = `${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.statusCode, where).toBeLessThan(500);
        expect([200, 201, 400, 413, 415, 422], where).toContain(res.statusCode);
        if (res.statusCode === 201) {
          const body = res.json<{ dryRun: boolean; rows: number; imported: number }>();
          expect(body.imported, where).toBe(body.rows);
          expect(after[entity] - before[entity], where).toBe(body.imported);
          expect(after.changes - before.changes, where).toBe(body.imported);
          for (const t of TABLES) if (t !== entity) expect(after[t], `${t} changed by a ${entity} import`).toBe(before[t]);
          for (const c of await s.changesAfter(before.changes)) {
            const got = await s.request('admin', 'GET', GET_ROUTE[entity](c.entityId));
            expect(got.statusCode, `${c.entityId}: ${got.body.slice(0, 200)}`).toBe(200);
          }
        } else {
          expect(after, where).toEqual(before);
        }
        if (res.statusCode === 422) {
          const body = res.json<{ errors?: { line: number; column: string | null; message: string }[] }>();
          const lines = text.split(/\r\n|\r|\n/).length;
          expect(body.errors?.length ?? 0, where).toBeGreaterThan(0);
          for (const e of body.errors ?? []) {
            expect(e.line, where).toBeGreaterThanOrEqual(1);
            expect(e.line, where).toBeLessThanOrEqual(lines + 1);
            expect(e.message.length, where).toBeGreaterThan(0);
          }
        }
      }),
      seed,
      350,
    );
    // The fuzz reached both sides: imports that went through and files refused row by row.
    expect((outcomes[201] ?? 0) + (outcomes[200] ?? 0), JSON.stringify(outcomes)).toBeGreaterThan(5);
    expect(outcomes[422] ?? 0, JSON.stringify(outcomes)).toBeGreaterThan(50);
  });
});
