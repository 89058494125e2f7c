/** The server's schema comes about by migrations, from nothing and from the previous version, keeping data. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterEach, expect, it } from 'vitest';
import { LATEST_MIGRATION, migrate, openSqlite, type ServerDb } from '../../server/db/database.js';
import { MIGRATIONS } from '../../server/db/migrations/index.js';

const dirs: string[] = [];
const dbs: ServerDb[] = [];
afterEach(async () => {
  for (const db of dbs.splice(0)) await db.destroy();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fresh(): ServerDb {
  const dir = mkdtempSync(join(tmpdir(), 'of-mig-'));
  dirs.push(dir);
  const db = openSqlite(join(dir, 'server.db'));
  dbs.push(db);
  return db;
}

async function tables(db: ServerDb): Promise<string[]> {
  const r = await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'kysely_%' ORDER BY name`.execute(db);
  return r.rows.map((x) => x.name);
}

it('builds the whole schema on an empty database, and a second run does nothing', async () => {
  const db = fresh();
  const first = await migrate(db);
  expect(first.applied).toEqual(Object.keys(MIGRATIONS));
  expect(first.version).toBe(LATEST_MIGRATION);
  expect(await tables(db)).toEqual([
    'api_tokens', 'audit_checkpoints', 'audit_keys', 'audit_log', 'badges', 'billing_periods', 'booking_visitors', 'bookings', 'certifications', 'changes', 'costs', 'equipment_downtime', 'equipment_status', 'free_time_grants', 'gateway_audit_alarms', 'gateway_audit_keys', 'gateway_checkpoints', 'gateways', 'ledger_entries', 'members', 'plans', 'rate_cards', 'service_participants', 'services', 'sessions', 'team_investments', 'teams', 'trainers', 'users',
  ]);
  const again = await migrate(db);
  expect(again.applied).toEqual([]);
});

it('upgrades a database written by version 1 to version 2, keeping its data', async () => {
  const db = fresh();
  await migrate(db, '001-reference-data');
  expect(await tables(db)).not.toContain('changes');
  const now = Date.now();
  await db.insertInto('teams').values({ id: 'team_1', name: '星火团队', name_zh: null, founded_on: '2025-03-01', registered_on: '2026-01-10', status: 'incubating', exit_on: null, exit_reason: null, created_at: now, updated_at: now }).execute();
  await db
    .insertInto('members')
    .values({ id: 'mem_1', member_no: 'M0001', name: '李雷', name_zh: null, email: null, phone: null, team_id: 'team_1', status: 'active', joined_on: '2026-01-10', left_on: null, plan_id: null, plan_valid_from: null, plan_valid_to: null, created_at: now, updated_at: now })
    .execute();
  const r = await migrate(db, '002-changes-and-gateways');
  expect(r.applied).toEqual(['002-changes-and-gateways']);
  expect(await db.selectFrom('members').select(['member_no', 'name', 'team_id']).execute()).toEqual([{ member_no: 'M0001', name: '李雷', team_id: 'team_1' }]);
  // and the new tables work
  await db.insertInto('changes').values({ at: now, actor: 'test', entity: 'member', entity_id: 'mem_1', action: 'update', before: null, after: '{}' }).execute();
  expect(await db.selectFrom('changes').select('id').execute()).toEqual([{ id: 1 }]);
});

it('upgrades a database written by version 2 to version 3: badges become ordinary (not override) badges', async () => {
  const db = fresh();
  await migrate(db, '002-changes-and-gateways');
  expect(await tables(db)).not.toContain('equipment_status');
  const now = Date.now();
  await db
    .insertInto('members')
    .values({ id: 'mem_1', member_no: 'M0001', name: '李雷', name_zh: null, email: null, phone: null, team_id: null, status: 'active', joined_on: '2026-01-10', left_on: null, plan_id: null, plan_valid_from: null, plan_valid_to: null, created_at: now, updated_at: now })
    .execute();
  // Written the way the previous version wrote it: no override column yet.
  await sql`INSERT INTO badges (id, member_id, format, credential, status, issued_on, note, created_at, updated_at) VALUES ('b1', 'mem_1', 'uid', '04A1B2C3', 'active', '2026-01-10', NULL, ${now}, ${now})`.execute(db);
  const r = await migrate(db, '003-access-control');
  expect(r.applied).toEqual(['003-access-control']);
  expect(await db.selectFrom('badges').select(['id', 'override']).execute()).toEqual([{ id: 'b1', override: 0 }]);
  // and the new tables work: one open downtime period per machine
  await db.insertInto('equipment_status').values({ site_id: 'site-a', equipment_id: 'laser-1', out_of_service: 1, since: now, reason: 'tube', changed_by: 'test' }).execute();
  const period = { site_id: 'site-a', equipment_id: 'laser-1', started_at: now, ended_at: null, reason: 'tube', reported_by: 'test', restored_by: null };
  await db.insertInto('equipment_downtime').values({ id: 'dtm_1', ...period }).execute();
  await expect(db.insertInto('equipment_downtime').values({ id: 'dtm_2', ...period }).execute()).rejects.toThrow(/UNIQUE/);
  await expect(db.updateTable('badges').set({ override: 2 }).execute()).rejects.toThrow(/CHECK/);
});

it('upgrades a database written by version 3 to version 4, keeping its data: services and their participants', async () => {
  const db = fresh();
  await migrate(db, '003-access-control');
  expect(await tables(db)).not.toContain('services');
  const now = Date.now();
  await db
    .insertInto('members')
    .values({ id: 'mem_1', member_no: 'M0001', name: '李雷', name_zh: null, email: null, phone: null, team_id: null, status: 'active', joined_on: '2026-01-10', left_on: null, plan_id: null, plan_valid_from: null, plan_valid_to: null, created_at: now, updated_at: now })
    .execute();
  const r = await migrate(db, '004-services');
  expect(r.applied).toEqual(['004-services']);
  expect(await db.selectFrom('members').select('member_no').execute()).toEqual([{ member_no: 'M0001' }]);
  const svc = { id: 'svc_1', kind: 'training' as const, title: 'Laser safety', title_zh: '激光安全培训', site_id: null, started_at: now, minutes: 90, provider: null, trainer_id: null, team_id: null, external_participants: 0, fee_minor: 0, reference_minor: 20_000, note: null, created_at: now, updated_at: now };
  await db.insertInto('services').values(svc).execute();
  await db.insertInto('service_participants').values({ service_id: 'svc_1', member_id: 'mem_1' }).execute();
  await expect(db.insertInto('services').values({ ...svc, id: 'svc_2', kind: 'party' as never }).execute()).rejects.toThrow(/CHECK/);
  await expect(db.insertInto('services').values({ ...svc, id: 'svc_3', minutes: 0 }).execute()).rejects.toThrow(/CHECK/);
  await expect(db.insertInto('service_participants').values({ service_id: 'svc_1', member_id: 'nobody' }).execute()).rejects.toThrow(/FOREIGN KEY/);
});

it('upgrades a database written by version 4 to version 5: an append-only ledger the database itself guards', async () => {
  const db = fresh();
  await migrate(db, '004-services');
  expect(await tables(db)).not.toContain('ledger_entries');
  const r = await migrate(db, '005-ledger');
  expect(r.applied).toEqual(['005-ledger']);
  const now = Date.now();
  const entry = { site_id: 's', period: '2026-11', kind: 'charge' as const, party_type: 'member' as const, party_id: 'mem_1', resource_class: 'machine:laser-cutter', amount_minor: 3000, reference_minor: 12_000, subsidy_minor: 9000, currency: 'CNY', line: '{}', corrects: null, reason: null, created_at: now, created_by: 'test' };
  // While the month is open, closing writes its charges…
  await db.insertInto('ledger_entries').values(entry).execute();
  await expect(db.insertInto('ledger_entries').values({ ...entry, kind: 'adjustment', reason: 'too early' }).execute()).rejects.toThrow(/not closed: nothing to adjust yet/);
  // …then the period row freezes it.
  await db.insertInto('billing_periods').values({ site_id: 's', period: '2026-11', closed_at: now, closed_by: 'test', statements_sha256: 'ab', currency: 'CNY' }).execute();
  await expect(db.insertInto('ledger_entries').values(entry).execute()).rejects.toThrow(/period is closed: corrections are adjustments/);
  await expect(db.updateTable('ledger_entries').set({ amount_minor: 0 }).execute()).rejects.toThrow(/append-only/);
  await expect(db.deleteFrom('ledger_entries').execute()).rejects.toThrow(/append-only/);
  await expect(db.updateTable('billing_periods').set({ statements_sha256: 'cd' }).execute()).rejects.toThrow(/cannot change/);
  await expect(db.deleteFrom('billing_periods').execute()).rejects.toThrow(/cannot be reopened/);
  await expect(db.insertInto('ledger_entries').values({ ...entry, kind: 'adjustment', corrects: 1, amount_minor: -600 }).execute()).rejects.toThrow(/CHECK/);
  await db.insertInto('ledger_entries').values({ ...entry, kind: 'adjustment', corrects: 1, amount_minor: -600, subsidy_minor: 600, reason: 'meter fault: 12 minutes billed twice' }).execute();
  const total = await db.selectFrom('ledger_entries').select((eb) => eb.fn.sum<number>('amount_minor').as('sum')).executeTakeFirstOrThrow();
  expect(Number(total.sum)).toBe(2400);
  await expect(db.insertInto('billing_periods').values({ site_id: 's', period: '2026-13x', closed_at: now, closed_by: 'test', statements_sha256: 'ab', currency: 'CNY' }).execute()).rejects.toThrow(/CHECK/);
});

it('upgrades a database written by version 5 to version 6: rate cards kept as they were', async () => {
  const db = fresh();
  await migrate(db, '005-ledger');
  expect(await tables(db)).not.toContain('rate_cards');
  const r = await migrate(db, '006-rate-cards');
  expect(r.applied).toEqual(['006-rate-cards']);
  await db.insertInto('rate_cards').values({ card: '{"versions":[]}', created_at: 1, created_by: 'test' }).execute();
  await expect(db.updateTable('rate_cards').set({ card: '{}' }).execute()).rejects.toThrow(/kept as they were/);
  await expect(db.deleteFrom('rate_cards').execute()).rejects.toThrow(/kept as they were/);
});

it('upgrades a database written by version 6 to version 7: members keep their billing, a closed month freezes its costs', async () => {
  const db = fresh();
  await migrate(db, '006-rate-cards');
  expect(await tables(db)).not.toContain('costs');
  const now = Date.now();
  await sql`INSERT INTO members (id, member_no, name, status, joined_on, created_at, updated_at) VALUES ('mem_1', 'M0001', '李雷', 'active', '2026-01-10', ${now}, ${now})`.execute(db);
  await sql`INSERT INTO billing_periods (site_id, period, closed_at, closed_by, statements_sha256, currency) VALUES ('site-a', '2026-10', ${now}, 'test', 'abc', 'CNY')`.execute(db);
  const r = await migrate(db, '007-accounting-inputs');
  expect(r.applied).toEqual(['007-accounting-inputs']);
  expect(await db.selectFrom('members').select(['id', 'price_group', 'bill_to']).execute()).toEqual([{ id: 'mem_1', price_group: null, bill_to: 'team' }]);
  expect(await db.selectFrom('billing_periods').select(['period', 'inputs']).execute()).toEqual([{ period: '2026-10', inputs: null }]);
  await expect(db.updateTable('members').set({ bill_to: 'parent' as 'self' }).execute()).rejects.toThrow(/CHECK/);
  const cost = { site_id: 'site-a', category: 'broadband' as const, description: 'fibre 1000M', supplier: null, invoice_ref: null, amount_minor: 120000, currency: 'CNY', created_at: now, created_by: 'test' };
  await expect(db.insertInto('costs').values({ id: 'cst_1', period: '2026-10', ...cost }).execute()).rejects.toThrow(/closed/);
  await db.insertInto('costs').values({ id: 'cst_2', period: '2026-11', ...cost }).execute();
  await expect(db.updateTable('costs').set({ period: '2026-10' }).execute()).rejects.toThrow(/closed/);
  await expect(db.insertInto('costs').values({ id: 'cst_3', period: '2026-12', ...cost, amount_minor: 0 }).execute()).rejects.toThrow(/CHECK/);
  await db.insertInto('free_time_grants').values({ id: 'ftg_1', member_id: 'mem_1', resource_class: 'machine:laser-cutter', from_ms: 1, to_ms: 2, reason: 'taught the laser course', created_at: now, created_by: 'test' }).execute();
  await expect(db.insertInto('free_time_grants').values({ id: 'ftg_2', member_id: 'mem_1', resource_class: 'machine:laser-cutter', from_ms: 2, to_ms: 2, reason: 'x', created_at: now, created_by: 'test' }).execute()).rejects.toThrow(/CHECK/);
  await expect(db.insertInto('free_time_grants').values({ id: 'ftg_3', member_id: 'nobody', resource_class: 'room', from_ms: 1, to_ms: 2, reason: 'x', created_at: now, created_by: 'test' }).execute()).rejects.toThrow(/FOREIGN KEY/);
});

it('upgrades a database written by version 7 to version 8: teams keep their data and gain a graduation date; investments need their team', async () => {
  const db = fresh();
  await migrate(db, '007-accounting-inputs');
  expect(await tables(db)).not.toContain('team_investments');
  const now = Date.now();
  await sql`INSERT INTO teams (id, name, registered_on, status, created_at, updated_at) VALUES ('team_1', '星火团队', '2025-01-01', 'graduated', ${now}, ${now})`.execute(db);
  const r = await migrate(db, '008-team-outcomes');
  expect(r.applied).toEqual(['008-team-outcomes']);
  expect(await db.selectFrom('teams').select(['id', 'status', 'graduated_on']).execute()).toEqual([{ id: 'team_1', status: 'graduated', graduated_on: null }]);
  const inv = { on_date: '2026-03-01', amount_minor: null, currency: 'CNY', source: null, investor: null, round: null, note: null, created_at: now, created_by: 'test' };
  await db.insertInto('team_investments').values({ id: 'inv_1', team_id: 'team_1', ...inv }).execute();
  await expect(db.insertInto('team_investments').values({ id: 'inv_2', team_id: 'nobody', ...inv }).execute()).rejects.toThrow(/FOREIGN KEY/);
  await expect(db.insertInto('team_investments').values({ id: 'inv_3', team_id: 'team_1', ...inv, amount_minor: 0 }).execute()).rejects.toThrow(/CHECK/);
  await expect(db.insertInto('team_investments').values({ id: 'inv_4', team_id: 'team_1', ...inv, source: 'bank' as 'own' }).execute()).rejects.toThrow(/CHECK/);
});

it('upgrades a database written by version 8 to version 9: what is there goes into the audit log first, in order; then every write is logged and the log cannot be edited', async () => {
  const db = fresh();
  await migrate(db, '008-team-outcomes');
  expect(await tables(db)).not.toContain('audit_log');
  await db.insertInto('changes').values({ at: 100, actor: 'user:admin', entity: 'member', entity_id: 'mem_1', action: 'create', before: null, after: '{"name":"李雷"}' }).execute();
  await db.insertInto('rate_cards').values({ card: '{"versions":[]}', created_at: 50, created_by: 'user:admin' }).execute();
  const r = await migrate(db, '009-audit-log');
  expect(r.applied).toEqual(['009-audit-log']);
  const logged = await db.selectFrom('audit_log').select(['idx', 'at', 'source', 'ref', 'body', 'leaf_hash']).orderBy('idx').execute();
  expect(logged.map((l) => [l.idx, l.at, l.source, l.ref, l.leaf_hash])).toEqual([
    [1, 50, 'rate_card', '1', null],
    [2, 100, 'change', '1', null],
  ]);
  expect(JSON.parse(logged[1]!.body)).toEqual({ table: 'changes', id: 1, at: 100, actor: 'user:admin', entity: 'member', entity_id: 'mem_1', action: 'create', before: null, after: '{"name":"李雷"}' });
  // Written afterwards, by any path: logged by the trigger in the same transaction.
  await sql`INSERT INTO changes (at, actor, entity, entity_id, action, before, after) VALUES (200, 'sqlite-shell', 'member', 'mem_1', 'update', NULL, '{}')`.execute(db);
  await sql`INSERT INTO billing_periods (site_id, period, closed_at, closed_by, statements_sha256, currency, inputs) VALUES ('site-a', '2026-10', 300, 'user:admin', 'abc', 'CNY', '{}')`.execute(db);
  const after = await db.selectFrom('audit_log').select(['idx', 'source', 'ref']).orderBy('idx').execute();
  expect(after.slice(2)).toEqual([
    { idx: 3, source: 'change', ref: '2' },
    { idx: 4, source: 'close', ref: 'site-a/2026-10' },
  ]);
  await expect(sql`UPDATE audit_log SET body = '{}' WHERE idx = 2`.execute(db)).rejects.toThrow(/append-only/);
  await expect(sql`DELETE FROM audit_log WHERE idx = 4`.execute(db)).rejects.toThrow(/append-only/);
  // The leaf hash is set once, and only it.
  await sql`UPDATE audit_log SET leaf_hash = x'00' WHERE idx = 1`.execute(db);
  await expect(sql`UPDATE audit_log SET leaf_hash = x'01' WHERE idx = 1`.execute(db)).rejects.toThrow(/append-only/);
});

it('upgrades a database written by version 9 to version 10: bookings, and no two holding bookings of one resource overlap (buffer included)', async () => {
  const db = fresh();
  await migrate(db, '009-audit-log');
  expect(await tables(db)).not.toContain('bookings');
  const now = Date.now();
  await sql`INSERT INTO members (id, member_no, name, status, joined_on, created_at, updated_at) VALUES ('mem_1', 'M-1', '韩梅梅', 'active', '2026-01-01', ${now}, ${now})`.execute(db);
  const r = await migrate(db, '010-bookings');
  expect(r.applied).toEqual(['010-bookings']);
  const row = (id: string, from: number, to: number, hold: number, status: 'confirmed' | 'requested' | 'cancelled' = 'confirmed') => ({
    id, site_id: 'site-a', resource_type: 'equipment' as const, resource_id: 'laser-1', kind: 'booking' as const, member_id: 'mem_1', visitor_id: null, title: null,
    from_ms: from, to_ms: to, hold_to: hold, status, used_at: null, checked_at: null, created_at: now, created_by: 'test', updated_at: now,
  });
  await db.insertInto('bookings').values(row('b1', 1000, 2000, 2500)).execute();
  // Inside b1's buffer: refused; after it: fine; a request or a cancelled booking holds nothing.
  await expect(db.insertInto('bookings').values(row('b2', 2400, 3000, 3000)).execute()).rejects.toThrow(/booking_conflict/);
  await db.insertInto('bookings').values(row('b3', 2500, 3000, 3000)).execute();
  await db.insertInto('bookings').values(row('b4', 1500, 1800, 1800, 'requested')).execute();
  await db.insertInto('bookings').values(row('b5', 1500, 1800, 1800, 'cancelled')).execute();
  // Confirming the overlapping request, or moving one onto another: refused.
  await expect(db.updateTable('bookings').set({ status: 'confirmed' }).where('id', '=', 'b4').execute()).rejects.toThrow(/booking_conflict/);
  await expect(db.updateTable('bookings').set({ from_ms: 1900 }).where('id', '=', 'b3').execute()).rejects.toThrow(/booking_conflict/);
  // Another machine is another resource; a booking may change itself.
  await db.insertInto('bookings').values({ ...row('b6', 1000, 2000, 2000), resource_id: 'laser-2' }).execute();
  await db.updateTable('bookings').set({ to_ms: 1900, hold_to: 2400 }).where('id', '=', 'b1').execute();
  await expect(db.insertInto('bookings').values({ ...row('b7', 0, 10, 10), member_id: null }).execute()).rejects.toThrow(/CHECK/);
  await expect(db.insertInto('bookings').values(row('b8', 10, 10, 10)).execute()).rejects.toThrow(/CHECK/);
});

it('upgrades a database written by the previous version to the latest: gateways keep their rows and gain kept checkpoints, keys and alarms; a kept checkpoint cannot be changed or deleted', async () => {
  const names = Object.keys(MIGRATIONS);
  const db = fresh();
  await migrate(db, names[names.length - 2]);
  expect(await tables(db)).not.toContain('gateway_checkpoints');
  const now = Date.now();
  await sql`INSERT INTO api_tokens (id, name, role, site_id, token_hash, created_by, created_at) VALUES ('tok_1', 'gw', 'gateway', 'site-a', 'h', 'test', ${now})`.execute(db);
  await sql`INSERT INTO gateways (id, site_id, name, token_id, created_at) VALUES ('gwy_1', 'site-a', 'gw', 'tok_1', ${now})`.execute(db);
  const r = await migrate(db);
  expect(r.applied).toEqual([names[names.length - 1]]);
  expect(await db.selectFrom('gateways').select('id').execute()).toEqual([{ id: 'gwy_1' }]);
  await db.insertInto('gateway_audit_keys').values({ gateway_id: 'gwy_1', key_id: 'k1', public_key: 'pk', created_at: now, retired_at: null, announced_at: now }).execute();
  const cp = { gateway_id: 'gwy_1', size: 10, origin: 'openfacility/site-a', root: 'r', time: now, key_id: 'k1', sig: 's', received_at: now };
  await db.insertInto('gateway_checkpoints').values(cp).execute();
  await expect(db.insertInto('gateway_checkpoints').values(cp).execute()).rejects.toThrow(/UNIQUE|PRIMARY/);
  await expect(sql`UPDATE gateway_checkpoints SET root = 'x'`.execute(db)).rejects.toThrow(/kept/);
  await expect(sql`DELETE FROM gateway_checkpoints`.execute(db)).rejects.toThrow(/kept/);
  await expect(db.insertInto('gateway_checkpoints').values({ ...cp, gateway_id: 'nobody', size: 11 }).execute()).rejects.toThrow(/FOREIGN KEY/);
  await db.insertInto('gateway_audit_alarms').values({ gateway_id: 'gwy_1', at: now, code: 'fork', detail: 'd', checkpoint: '{}' }).execute();
});

it('keeps referential integrity on (a badge needs its member)', async () => {
  const db = fresh();
  await migrate(db);
  const now = Date.now();
  await expect(
    db.insertInto('badges').values({ id: 'b1', member_id: 'nobody', format: 'uid', credential: '04A1B2C3', status: 'active', issued_on: '2026-01-01', note: null, created_at: now, updated_at: now }).execute(),
  ).rejects.toThrow(/FOREIGN KEY/);
});
