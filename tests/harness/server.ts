/**
 * A real server for integration tests: the whole fastify app (buildApp, every
 * route area) over a fresh SQLite database in a temp file, driven through
 * app.inject(). It seeds a small, known world:
 *
 *   logins   admin, manager, auditor (staff) and memberA, memberB (role member)
 *   teams    teamA ("Alpha Robotics" / 阿尔法机器人), teamB ("Beta Bio" / 贝塔生物)
 *   members  A (M-0001, 张三, in teamA, on the plan) and B (M-0002, 李四, in teamB)
 *   badges   A holds em4100 0A1B2C3D4E, B holds uid 04A1B2C3 (both active)
 *   plan     "Standard" / 标准会员 (for the plan references in member records)
 *
 * Seeding writes the tables directly (no change log), so the change log and
 * the policy versions a test sees are its own. Passwords use scrypt N=2^10.
 * `makeTestServer({ bare: true })` seeds only the staff logins (an empty space,
 * e.g. to import into); `{ server: {…} }` overrides server options (limits,
 * session TTL); `{ areas: […] }` mounts only some route areas.
 *
 *   const s = await makeTestServer();
 *   const res = await s.request('memberA', 'GET', `/api/v1/members/${s.seed.members.a}`);
 *   const cookie = await s.login('admin');            // "facility_session=…"
 *   const token = await s.tokenFor('auditor');        // "fac_…" for Authorization: Bearer
 *   s.policyVersions                                  // every version announced (onPolicyChange)
 *   await s.changesAfter(id)                          // change-log rows after id, before/after parsed
 *   s.clock.advance(60_000)                           // time is the harness's
 *   await s.close();                                  // app, database and temp directory
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { buildApp, type RouteArea, type ServerOptions } from '../../server/app.js';
import { ServerAuditLog } from '../../server/audit/log.js';
import type { LiveSource } from '../../server/routes/live.js';
import type { Site } from '../../core/site/model.js';
import { hashPassword } from '../../server/auth/passwords.js';
import { createApiToken, SESSION_COOKIE } from '../../server/auth/sessions.js';
import { migrate, openSqlite, type ServerDb } from '../../server/db/database.js';
import type { Role } from '../../server/db/schema.js';
import { ROUTE_AREAS } from '../../server/routes/index.js';

/** Who a test acts as: a seeded login. */
export type Who = 'admin' | 'manager' | 'auditor' | 'memberA' | 'memberB';
export const WHO: readonly Who[] = ['admin', 'manager', 'auditor', 'memberA', 'memberB'];

/** Passwords of the seeded logins (each the user name and a fixed suffix, long enough for the password rules). */
export const passwordOf = (who: Who): string => `pw-for-the-${who.toLowerCase()}-login`;

export const TEST_PASSWORD_PARAMS = Object.freeze({ N: 2 ** 10 });
/** 2026-11-25 09:00 UTC: the harness clock starts here. */
export const T0 = Date.UTC(2026, 10, 25, 9);

export interface TestClock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

export interface Seed {
  readonly users: Readonly<Record<Who, string>>;
  readonly teams: { readonly a: string; readonly b: string };
  readonly members: { readonly a: string; readonly b: string };
  readonly memberNos: { readonly a: string; readonly b: string };
  readonly badges: { readonly a: string; readonly b: string };
  readonly plan: string;
}

export interface ChangeEntry {
  readonly id: number;
  readonly at: number;
  readonly actor: string;
  readonly entity: string;
  readonly entityId: string;
  readonly action: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface TestServer {
  readonly app: FastifyInstance;
  readonly db: ServerDb;
  readonly clock: TestClock;
  readonly seed: Seed;
  /** Every policy version announced through onPolicyChange, in order. */
  readonly policyVersions: number[];
  /** Logs in (once; cached) and returns the Cookie header value. */
  login(who: Who): Promise<string>;
  /** An API token (fac_…) with this role; gateway tokens are bound to site "test-site". Cached per role. */
  tokenFor(role: Role): Promise<string>;
  /** app.inject as `who` (session cookie), or anonymously (null). Objects are sent as JSON, strings as text/csv unless headers say otherwise. */
  request(who: Who | null, method: InjectOptions['method'], url: string, payload?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** The newest change-log id (0 when empty). */
  lastChangeId(): Promise<number>;
  /** Change-log rows with id > afterId, oldest first, before/after parsed. */
  changesAfter(afterId: number): Promise<ChangeEntry[]>;
  /** Closes the app and the database and removes the temp directory. */
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Overrides of the server options (limits, session TTL…). */
  readonly server?: Partial<ServerOptions>;
  /** Route areas to mount (default: all of ROUTE_AREAS). */
  readonly areas?: readonly RouteArea[];
  /** Only the staff logins (admin, manager, auditor): no plan, teams, members, badges or member logins (seed ids are ''). */
  readonly bare?: boolean;
  /** A gateway's live state for GET /api/v1/live (default: none, as for `facility server`: 503). */
  readonly live?: LiveSource;
  /** The site file for the floor plan (GET /api/v1/floorplan; default: the usage source's, else none: 503). */
  readonly site?: Site;
}

export async function makeTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'of-server-'));
  const db = openSqlite(join(dir, 'server.db'));
  let t = T0;
  const clock: TestClock = { now: () => t, set: (ms) => void (t = ms), advance: (ms) => void (t += ms) };
  let app: FastifyInstance | undefined;
  try {
    await migrate(db);
    const seed = await seedWorld(db, t, opts.bare ?? false);
    const policyVersions: number[] = [];
    // Every test server keeps an audit log, as `facility server` does (its key made afresh).
    const audit = await ServerAuditLog.open(db, { key: generateKeyPairSync('ed25519').privateKey, origin: 'openfacility/test-site', clock });
    app = await buildApp(
      {
        logger: pino({ level: 'silent' }),
        server: {
          db,
          clock,
          sessionTtlMs: 12 * 3600_000,
          passwordParams: TEST_PASSWORD_PARAMS,
          loginPerIpPerMinute: 10_000,
          loginFailuresPerAccount: 100,
          loginRefillMs: 1000,
          requestsPerMinute: 1_000_000,
          audit,
          ...opts.server,
        },
        onPolicyChange: (v) => policyVersions.push(v),
        ...(opts.live && { live: opts.live }),
        ...(opts.site && { site: opts.site }),
      },
      opts.areas ?? ROUTE_AREAS,
    );
    await app.ready();
    const theApp = app;

    const cookies = new Map<Who, string>();
    const tokens = new Map<Role, string>();
    const login = async (who: Who): Promise<string> => {
      const cached = cookies.get(who);
      if (cached) return cached;
      const res = await theApp.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: who, password: passwordOf(who) } });
      const c = res.cookies.find((k) => k.name === SESSION_COOKIE);
      if (res.statusCode !== 200 || !c) throw new Error(`test login as ${who} failed: ${res.statusCode} ${res.body}`);
      const cookie = `${SESSION_COOKIE}=${c.value}`;
      cookies.set(who, cookie);
      return cookie;
    };

    return {
      app: theApp,
      db,
      clock,
      seed,
      policyVersions,
      login,
      async tokenFor(role) {
        const cached = tokens.get(role);
        if (cached) return cached;
        const { token } = await createApiToken(db, { name: `test-${role}`, role, siteId: role === 'gateway' ? 'test-site' : null, createdBy: 'test' }, clock.now());
        tokens.set(role, token);
        return token;
      },
      async request(who, method, url, payload, headers = {}) {
        const h: Record<string, string> = { ...headers };
        if (who !== null) h.cookie = await login(who);
        if (typeof payload === 'string' && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) h['content-type'] = 'text/csv';
        return theApp.inject({ method, url, headers: h, ...(payload !== undefined && { payload: payload as InjectOptions['payload'] }) });
      },
      async lastChangeId() {
        const r = await db.selectFrom('changes').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
        return Number(r?.id ?? 0);
      },
      async changesAfter(afterId) {
        const rows = await db.selectFrom('changes').selectAll().where('id', '>', afterId).orderBy('id').execute();
        return rows.map((c) => ({
          id: Number(c.id),
          at: Number(c.at),
          actor: c.actor,
          entity: c.entity,
          entityId: c.entity_id,
          action: c.action,
          before: c.before === null ? null : (JSON.parse(c.before) as unknown),
          after: c.after === null ? null : (JSON.parse(c.after) as unknown),
        }));
      },
      async close() {
        await theApp.close();
        await db.destroy();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await app?.close();
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function seedWorld(db: ServerDb, now: number, bare: boolean): Promise<Seed> {
  const stamp = { created_at: now, updated_at: now };
  const staff: { who: Who; role: 'admin' | 'manager' | 'auditor' }[] = [
    { who: 'admin', role: 'admin' },
    { who: 'manager', role: 'manager' },
    { who: 'auditor', role: 'auditor' },
  ];
  const userRow = (id: string, who: Who, role: 'admin' | 'manager' | 'auditor' | 'member', member: string | null) => ({
    id,
    username: who,
    password_hash: hashPassword(passwordOf(who), TEST_PASSWORD_PARAMS),
    role,
    member_id: member,
    disabled: 0,
    ...stamp,
  });
  if (bare) {
    await db.insertInto('users').values(staff.map((u) => userRow(`usr_${u.who}`, u.who, u.role, null))).execute();
    const none = { a: '', b: '' };
    return { users: { admin: 'usr_admin', manager: 'usr_manager', auditor: 'usr_auditor', memberA: '', memberB: '' }, teams: none, members: none, memberNos: none, badges: none, plan: '' };
  }
  const seed: Seed = {
    users: { admin: 'usr_admin', manager: 'usr_manager', auditor: 'usr_auditor', memberA: 'usr_memberA', memberB: 'usr_memberB' },
    teams: { a: 'team_alpha', b: 'team_beta' },
    members: { a: 'mem_a', b: 'mem_b' },
    memberNos: { a: 'M-0001', b: 'M-0002' },
    badges: { a: 'bdg_a', b: 'bdg_b' },
    plan: 'plan_standard',
  };
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('plans')
      .values({ id: seed.plan, name: 'Standard', name_zh: '标准会员', spaces: '[]', hours: '[]', quotas: '{}', active: 1, ...stamp })
      .execute();
    await trx
      .insertInto('teams')
      .values([
        { id: seed.teams.a, name: 'Alpha Robotics', name_zh: '阿尔法机器人', founded_on: '2025-01-10', registered_on: '2025-03-01', status: 'incubating', exit_on: null, exit_reason: null, ...stamp },
        { id: seed.teams.b, name: 'Beta Bio', name_zh: '贝塔生物', founded_on: null, registered_on: '2025-06-01', status: 'incubating', exit_on: null, exit_reason: null, ...stamp },
      ])
      .execute();
    const member = { email: null, phone: null, status: 'active' as const, left_on: null, plan_valid_from: null, plan_valid_to: null, ...stamp };
    await trx
      .insertInto('members')
      .values([
        { ...member, id: seed.members.a, member_no: seed.memberNos.a, name: 'Zhang San', name_zh: '张三', email: 'zhang.san@example.cn', team_id: seed.teams.a, joined_on: '2025-03-01', plan_id: seed.plan, plan_valid_from: '2026-01-01', plan_valid_to: '2026-12-31' },
        { ...member, id: seed.members.b, member_no: seed.memberNos.b, name: 'Li Si', name_zh: '李四', phone: '+86 138 0000 0002', team_id: seed.teams.b, joined_on: '2025-06-01', plan_id: null },
      ])
      .execute();
    await trx
      .insertInto('badges')
      .values([
        { id: seed.badges.a, member_id: seed.members.a, format: 'em4100', credential: '0A1B2C3D4E', status: 'active', issued_on: '2025-03-01', note: null, ...stamp },
        { id: seed.badges.b, member_id: seed.members.b, format: 'uid', credential: '04A1B2C3', status: 'active', issued_on: '2025-06-01', note: null, ...stamp },
      ])
      .execute();
    await trx
      .insertInto('users')
      .values([
        ...staff.map((u) => userRow(seed.users[u.who], u.who, u.role, null)),
        userRow(seed.users.memberA, 'memberA', 'member', seed.members.a),
        userRow(seed.users.memberB, 'memberB', 'member', seed.members.b),
      ])
      .execute();
  });
  return seed;
}
