/**
 * Bulk CSV for members, teams and badges: spaces arrive with spreadsheets.
 *
 * Import is all or nothing. The whole file is checked first — every cell's
 * type, date, enum, format and reference, duplicates within the file and
 * against the database — and every problem is reported with its line (the
 * header is line 1), column and reason. Only a clean file is imported, in one
 * transaction, with one change-log entry (action 'import') per row. `?dryRun=true`
 * checks without writing.
 *
 * Export writes the same column layout (so an export imports into an empty
 * database), UTF-8 with a BOM and CRLF line ends, which Excel opens with
 * Chinese intact. A cell that a spreadsheet would run as a formula (= + - @)
 * is written with a leading apostrophe, which the import takes off again.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parse } from 'csv-parse/sync';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import type { Transaction } from 'kysely';
import { CREDENTIAL_FORMATS, type CredentialFormat } from '../../core/signals.js';
import { actorOf, recordChange, type Entity } from '../db/changes.js';
import type { BadgeRow, DB, MemberRow, TeamRow } from '../db/schema.js';
import { newId } from '../ids.js';
import { HttpProblem, problems } from '../problems.js';
import { badgeImage, BADGE_STATUSES, CREDENTIAL_HINT, normaliseCredential } from './badges.js';
import type { ServerContext } from './context.js';
import { csvText, sendCsv } from './csv.js';
import { BILL_TO, FIELD, MEMBER_STATUSES, memberRuleProblems, ONE_LINE, toMember, type MemberFacts } from './members.js';
import { ProblemSchema, NoQuery } from './schemas.js';
import { EXIT_REASON_MAX, teamNameKey, teamRuleProblems, TEAM_STATUSES, toTeam, type TeamFacts } from './teams.js';

export const MAX_IMPORT_ROWS = 50_000;
export const MAX_IMPORT_BYTES = 10 * 1024 * 1024;

export type CsvEntity = 'members' | 'teams' | 'badges';

export interface CsvColumn {
  readonly name: string;
  /** The header must have this column (its cells may still be empty when the value is optional). */
  readonly required: boolean;
  readonly description: string;
}

/** The column layouts, in export order (docs/server.md documents them; keep the two in step). */
export const CSV_LAYOUTS: Readonly<Record<CsvEntity, readonly CsvColumn[]>> = Object.freeze({
  members: [
    { name: 'memberNo', required: true, description: 'member number, unique' },
    { name: 'name', required: true, description: 'name' },
    { name: 'nameZh', required: false, description: 'Chinese name' },
    { name: 'email', required: false, description: 'e-mail address' },
    { name: 'phone', required: false, description: 'phone number' },
    { name: 'team', required: false, description: 'team id or exact team name' },
    { name: 'status', required: false, description: 'active (default), suspended or left' },
    { name: 'joinedOn', required: true, description: 'date joined' },
    { name: 'plan', required: false, description: 'plan id or exact plan name' },
    { name: 'planValidFrom', required: false, description: 'plan valid from (needs a plan)' },
    { name: 'planValidTo', required: false, description: 'plan valid to (needs a plan)' },
    { name: 'priceGroup', required: false, description: "the rate card's member group whose prices apply" },
    { name: 'billTo', required: false, description: 'team (default: through the team the use was recorded for) or self' },
    { name: 'leftOn', required: false, description: 'date left: for status left, and only then' },
  ],
  teams: [
    { name: 'name', required: true, description: 'team name, unique (ignoring case)' },
    { name: 'nameZh', required: false, description: 'Chinese name' },
    { name: 'foundedOn', required: false, description: 'date founded' },
    { name: 'registeredOn', required: true, description: 'date registered with the space' },
    { name: 'status', required: false, description: 'incubating (default), graduated or exited' },
    { name: 'graduatedOn', required: false, description: 'graduation date: for status graduated only' },
    { name: 'exitOn', required: false, description: 'exit date: for status exited, and only then' },
    { name: 'exitReason', required: false, description: 'exit reason: for status exited, and only then' },
  ],
  badges: [
    { name: 'memberNo', required: true, description: 'the holder’s member number (the member must exist)' },
    { name: 'format', required: true, description: 'uid, em4100 or wiegand26' },
    { name: 'credential', required: true, description: 'the card id in that format' },
    { name: 'status', required: false, description: 'active (default), lost, blocked or returned' },
    { name: 'issuedOn', required: true, description: 'date issued' },
    { name: 'note', required: false, description: 'note' },
  ],
});

// ---------------------------------------------------------------------------------------------
// Reading a CSV file

/** One problem in a file: where (line, counting the header as 1; column, null for the whole row) and what. */
export interface RowError {
  readonly line: number;
  readonly column: string | null;
  readonly message: string;
}

interface CsvRow {
  readonly line: number;
  /** Column name → trimmed cell ('' for empty or absent). */
  readonly cells: ReadonlyMap<string, string>;
}

function unguardCell(v: string): string {
  return /^'+[=+\-@\t\r]/.test(v) ? v.slice(1) : v;
}

/**
 * Dates as YYYY-MM-DD; spreadsheets also write 2024/3/5 and 2024.3.5, which
 * are taken too. Null for anything else or a day that does not exist.
 */
export function parseDateCell(s: string): string | null {
  const m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec(s);
  if (!m) return null;
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const d = Number(m[3]);
  const t = new Date(Date.UTC(y, mo - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d) return null;
  return `${m[1]}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}`;
}

/** Records read beyond the row limit before giving up (blank spreadsheet rows are not counted as rows). */
const BLANK_SLACK = 1000;

/** Parses the file into rows keyed by column, or the problems with its header or its CSV syntax. */
function readCsv(text: string, layout: readonly CsvColumn[]): { rows: CsvRow[]; errors: RowError[] } {
  // One line end everywhere, so csv-parse's line count is the editor's (it counts a quoted CRLF twice).
  const body = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).replace(/\r\n?/g, '\n');
  let records: { record: string[]; info: { lines: number } }[];
  let lastEnd = 0;
  try {
    // With info: true each record comes as { record, info } (the typings do not follow the option).
    records = parse(body, {
      info: true,
      relax_column_count: true,
      skip_empty_lines: false,
      to: MAX_IMPORT_ROWS + 1 + BLANK_SLACK,
      on_record: (r, context) => {
        lastEnd = context.lines;
        return r;
      },
    }) as unknown as typeof records;
  } catch (err) {
    // Point at the row that would not parse (where its quote opened), not where the parser gave up.
    const why = ((err as { message?: string }).message ?? 'not valid CSV').replace(/ at line \d+.*$/, '');
    return { rows: [], errors: [{ line: lastEnd + 1, column: null, message: `the row starting here is not valid CSV: ${why} (a quote opened and never closed, or text right after a closing quote)` }] };
  }
  const first = records[0];
  if (!first || first.record.every((c) => c.trim() === '')) {
    return { rows: [], errors: [{ line: 1, column: null, message: `the first line must be the header: ${layout.map((c) => c.name).join(',')}` }] };
  }

  // Header: known names, any order, any case; required ones present; no repeats.
  const errors: RowError[] = [];
  const byKey = new Map(layout.map((c) => [c.name.toLowerCase(), c.name]));
  const columns: (string | null)[] = [];
  const seen = new Set<string>();
  first.record.forEach((raw) => {
    const h = raw.trim();
    if (h === '') {
      columns.push(null);
      return;
    }
    const name = byKey.get(h.toLowerCase());
    if (name === undefined) {
      errors.push({ line: 1, column: h, message: `unknown column ${JSON.stringify(h)}; the columns are ${layout.map((c) => c.name).join(', ')}` });
    } else if (seen.has(name)) {
      errors.push({ line: 1, column: h, message: `column ${name} appears twice` });
    } else {
      seen.add(name);
    }
    columns.push(name === undefined || columns.includes(name) ? null : name);
  });
  for (const c of layout) if (c.required && !seen.has(c.name)) errors.push({ line: 1, column: c.name, message: `the header has no column ${c.name}, which is required` });
  if (errors.length > 0) return { rows: [], errors };

  const rows: CsvRow[] = [];
  let prevEnd = first.info.lines;
  for (const { record, info } of records.slice(1)) {
    const line = prevEnd + 1;
    prevEnd = info.lines;
    // Blank lines and the empty rows spreadsheets leave at the end (",,,,") are not rows.
    if (record.every((c) => c.trim() === '')) continue;
    const cells = new Map<string, string>();
    record.forEach((raw, i) => {
      const v = unguardCell(raw.trim());
      const col = columns[i];
      if (col) cells.set(col, v);
      else if (v !== '' && i < columns.length) errors.push({ line, column: null, message: `a value in field ${i + 1}, which has no column name` });
    });
    // Trailing empty fields are harmless (spreadsheets pad rows); values beyond the header are not.
    if (record.slice(columns.length).some((c) => c.trim() !== '')) errors.push({ line, column: null, message: `the row has ${record.length} fields; the header has ${columns.length}` });
    rows.push({ line, cells });
  }
  if (records.length >= MAX_IMPORT_ROWS + 1 + BLANK_SLACK || rows.length > MAX_IMPORT_ROWS) {
    throw new HttpProblem(413, 'too_many_rows', `the file has more than ${MAX_IMPORT_ROWS.toLocaleString('en')} rows; an import takes at most ${MAX_IMPORT_ROWS.toLocaleString('en')}: split it into several files`);
  }
  return { rows, errors };
}

const EMAIL = fullFormats.email as RegExp;
const ONE_LINE_RE = new RegExp(ONE_LINE, 'u');

/** Reads one row's cells, noting each problem against its line and column. */
class RowReader {
  /** Columns whose value could not be read (rules over them are not checked again). */
  readonly failed = new Set<string>();

  constructor(
    readonly row: CsvRow,
    private readonly errors: RowError[],
  ) {}

  get line(): number {
    return this.row.line;
  }

  bad(column: string | null, message: string): null {
    this.errors.push({ line: this.row.line, column, message });
    if (column !== null) this.failed.add(column);
    return null;
  }

  /** The trimmed cell, or null when it is empty (a problem when required). */
  cell(column: string, required = false): string | null {
    const v = this.row.cells.get(column) ?? '';
    if (v !== '') return v;
    return required ? this.bad(column, `${column} is required`) : null;
  }

  /** Text of at most `max` characters; on one line unless `multiline`; matching `pattern` when given. */
  text(column: string, o: { required?: boolean; max: number; multiline?: boolean; pattern?: RegExp; hint?: string }): string | null {
    const v = this.cell(column, o.required);
    if (v === null) return null;
    if ([...v].length > o.max) return this.bad(column, `${column} is longer than ${o.max} characters`);
    if (!o.multiline && !ONE_LINE_RE.test(v)) return this.bad(column, `${column} must be on one line`);
    if (o.pattern && !o.pattern.test(v)) return this.bad(column, o.hint ?? `${column} is not in the right form`);
    return v;
  }

  date(column: string, required = false): string | null {
    const v = this.cell(column, required);
    if (v === null) return null;
    return parseDateCell(v) ?? this.bad(column, `${column} ${JSON.stringify(v)} is not a date: write YYYY-MM-DD (2024/3/5 works too)`);
  }

  /** One of `values` (any case), `fallback` when empty. */
  oneOf<T extends string>(column: string, values: readonly T[], fallback: T): T | null {
    const v = this.cell(column);
    if (v === null) return fallback;
    const lower = v.toLowerCase();
    return (values as readonly string[]).includes(lower) ? (lower as T) : this.bad(column, `${column} ${JSON.stringify(v)} is not one of ${values.join(', ')}`);
  }

  /** Whether none of these columns failed to read (so rules over them are worth checking). */
  fine(...columns: string[]): boolean {
    return columns.every((c) => !this.failed.has(c));
  }
}

// ---------------------------------------------------------------------------------------------
// Checking rows against the rules and the database, and importing them

interface Checked<T> {
  readonly errors: RowError[];
  readonly rows: number;
  readonly inserts: T[];
}

type Trx = Transaction<DB>;

/** A reference by id or by exact name (then Chinese name): the one match, or why there is none. */
function resolveRef<R extends { id: string; name: string; name_zh: string | null }>(
  all: readonly R[],
  ref: string,
  what: string,
  nameKey: (s: string) => string = (s) => s,
): { ok: true; row: R } | { ok: false; message: string } {
  const byId = all.find((r) => r.id === ref);
  if (byId) return { ok: true, row: byId };
  for (const [field, pick] of [
    ['name', (r: R) => r.name],
    ['Chinese name', (r: R) => r.name_zh],
  ] as const) {
    const matches = all.filter((r) => {
      const v = pick(r);
      return v !== null && nameKey(v) === nameKey(ref);
    });
    if (matches.length === 1) return { ok: true, row: matches[0]! };
    if (matches.length > 1) return { ok: false, message: `${matches.length} ${what}s have the ${field} ${JSON.stringify(ref)}; use the ${what} id (${matches.map((m) => m.id).join(', ')})` };
  }
  return { ok: false, message: `there is no ${what} with the id or name ${JSON.stringify(ref)}` };
}

async function checkMembers(trx: Trx, rows: readonly CsvRow[], errors: RowError[]): Promise<Checked<MemberRow>> {
  const teams = await trx.selectFrom('teams').select(['id', 'name', 'name_zh']).execute();
  const plans = await trx.selectFrom('plans').select(['id', 'name', 'name_zh']).execute();
  const existing = new Map((await trx.selectFrom('members').select(['id', 'member_no']).execute()).map((m) => [m.member_no, m.id]));
  const inFile = new Map<string, number>();
  const inserts: MemberRow[] = [];
  const memberNoRe = new RegExp(FIELD.memberNo.pattern, 'u');
  const phoneRe = new RegExp(FIELD.phone.pattern, 'u');

  for (const row of rows) {
    const r = new RowReader(row, errors);
    const memberNo = r.text('memberNo', { required: true, max: FIELD.memberNo.maxLength, pattern: memberNoRe, hint: 'memberNo may have only letters, digits and . _ / - and starts with a letter or digit' });
    if (memberNo !== null) {
      const earlier = inFile.get(memberNo);
      const there = existing.get(memberNo);
      if (earlier !== undefined) r.bad('memberNo', `member number ${memberNo} is already on line ${earlier}`);
      else if (there !== undefined) r.bad('memberNo', `member number ${memberNo} already exists (member ${there})`);
      else inFile.set(memberNo, r.line);
    }
    const name = r.text('name', { required: true, max: FIELD.name.maxLength });
    const nameZh = r.text('nameZh', { max: FIELD.name.maxLength });
    const email = r.text('email', { max: FIELD.email.maxLength, pattern: EMAIL, hint: 'email is not an e-mail address' });
    const phone = r.text('phone', { max: FIELD.phone.maxLength, pattern: phoneRe, hint: 'phone may have only digits, spaces, ( ) and -, and may start with +' });
    if (phone !== null && phone.length < FIELD.phone.minLength) r.bad('phone', `phone is shorter than ${FIELD.phone.minLength} characters`);
    let teamId: string | null = null;
    const teamRef = r.cell('team');
    if (teamRef !== null) {
      const t = resolveRef(teams, teamRef, 'team', teamNameKey);
      if (t.ok) teamId = t.row.id;
      else r.bad('team', t.message);
    }
    const status = r.oneOf('status', MEMBER_STATUSES, 'active');
    const joinedOn = r.date('joinedOn', true);
    const leftOn = r.date('leftOn');
    let planId: string | null = null;
    const planRef = r.cell('plan');
    if (planRef !== null) {
      const p = resolveRef(plans, planRef, 'plan');
      if (p.ok) planId = p.row.id;
      else r.bad('plan', p.message);
    }
    const planValidFrom = r.date('planValidFrom');
    const planValidTo = r.date('planValidTo');
    const priceGroup = r.cell('priceGroup');
    const billTo = r.oneOf('billTo', BILL_TO, 'team');

    if (status !== null && joinedOn !== null && r.fine('leftOn', 'plan', 'planValidFrom', 'planValidTo')) {
      const facts: MemberFacts = { status, joinedOn, leftOn, planId, planValidFrom, planValidTo };
      for (const p of memberRuleProblems(facts)) r.bad(p.field === 'planId' ? 'plan' : p.field, p.message);
    }
    if (r.failed.size > 0 || memberNo === null || name === null || status === null || joinedOn === null || billTo === null) continue;
    inserts.push({
      id: newId('mem'),
      member_no: memberNo,
      name,
      name_zh: nameZh,
      email,
      phone,
      team_id: teamId,
      status,
      joined_on: joinedOn,
      left_on: leftOn,
      plan_id: planId,
      plan_valid_from: planValidFrom,
      plan_valid_to: planValidTo,
      price_group: priceGroup,
      bill_to: billTo,
      created_at: 0,
      updated_at: 0,
    });
  }
  return { errors, rows: rows.length, inserts };
}

async function checkTeams(trx: Trx, rows: readonly CsvRow[], errors: RowError[]): Promise<Checked<TeamRow>> {
  const existing = new Map((await trx.selectFrom('teams').select(['id', 'name']).execute()).map((t) => [teamNameKey(t.name), t]));
  const inFile = new Map<string, number>();
  const inserts: TeamRow[] = [];
  for (const row of rows) {
    const r = new RowReader(row, errors);
    const name = r.text('name', { required: true, max: FIELD.name.maxLength });
    if (name !== null) {
      const key = teamNameKey(name);
      const earlier = inFile.get(key);
      const there = existing.get(key);
      if (earlier !== undefined) r.bad('name', `a team called ${name} is already on line ${earlier}`);
      else if (there !== undefined) r.bad('name', `a team called ${there.name} already exists (${there.id}); team names are unique`);
      else inFile.set(key, r.line);
    }
    const nameZh = r.text('nameZh', { max: FIELD.name.maxLength });
    const foundedOn = r.date('foundedOn');
    const registeredOn = r.date('registeredOn', true);
    const status = r.oneOf('status', TEAM_STATUSES, 'incubating');
    const exitOn = r.date('exitOn');
    const exitReason = r.text('exitReason', { max: EXIT_REASON_MAX, multiline: true });
    const graduatedOn = r.date('graduatedOn');
    if (status !== null && registeredOn !== null && r.fine('exitOn', 'exitReason', 'graduatedOn')) {
      const facts: TeamFacts = { status, registeredOn, foundedOn, exitOn, exitReason, graduatedOn };
      for (const p of teamRuleProblems(facts)) r.bad(p.field, p.message);
    }
    if (r.failed.size > 0 || name === null || registeredOn === null || status === null) continue;
    inserts.push({ id: newId('team'), name, name_zh: nameZh, founded_on: foundedOn, registered_on: registeredOn, status, exit_on: exitOn, exit_reason: exitReason, graduated_on: graduatedOn, created_at: 0, updated_at: 0 });
  }
  return { errors, rows: rows.length, inserts };
}

async function checkBadges(trx: Trx, rows: readonly CsvRow[], errors: RowError[]): Promise<Checked<BadgeRow>> {
  const members = new Map((await trx.selectFrom('members').select(['id', 'member_no']).execute()).map((m) => [m.member_no, m.id]));
  const held = new Map(
    (
      await trx
        .selectFrom('badges')
        .innerJoin('members', 'members.id', 'badges.member_id')
        .select(['badges.id', 'badges.format', 'badges.credential', 'members.member_no'])
        .where('badges.status', '<>', 'returned')
        .execute()
    ).map((b) => [`${b.format}|${b.credential}`, b]),
  );
  const inFile = new Map<string, number>();
  const inserts: BadgeRow[] = [];
  for (const row of rows) {
    const r = new RowReader(row, errors);
    const memberNo = r.cell('memberNo', true);
    const memberId = memberNo === null ? undefined : members.get(memberNo);
    if (memberNo !== null && memberId === undefined) r.bad('memberNo', `there is no member with the number ${memberNo}`);
    const format: CredentialFormat | null = r.cell('format', true) === null ? null : r.oneOf('format', CREDENTIAL_FORMATS, 'uid');
    const rawCredential = r.cell('credential', true);
    let credential: string | null = null;
    if (rawCredential !== null && format !== null) {
      credential = normaliseCredential(format, rawCredential);
      if (credential === null) r.bad('credential', `credential ${JSON.stringify(rawCredential)} is not a ${format} card id: expected ${CREDENTIAL_HINT[format]}`);
    }
    const status = r.oneOf('status', BADGE_STATUSES, 'active');
    const issuedOn = r.date('issuedOn', true);
    const note = r.text('note', { max: FIELD.note.maxLength, multiline: true });
    // A card is held by one badge at a time; returned badges hold nothing.
    if (credential !== null && status !== null && status !== 'returned') {
      const key = `${format}|${credential}`;
      const earlier = inFile.get(key);
      const holder = held.get(key);
      if (earlier !== undefined) r.bad('credential', `the ${format} card ${credential} is already held on line ${earlier}`);
      else if (holder !== undefined) r.bad('credential', `the ${format} card ${credential} is held by member ${holder.member_no} (badge ${holder.id}); mark that badge returned first`);
      else inFile.set(key, r.line);
    }
    if (r.failed.size > 0 || memberId === undefined || format === null || credential === null || status === null || issuedOn === null) continue;
    // Override badges are not in the CSV: an administrator sets them in the API (PATCH /badges/:id).
    inserts.push({ id: newId('bdg'), member_id: memberId, format, credential, status, issued_on: issuedOn, note, override: 0, created_at: 0, updated_at: 0 });
  }
  return { errors, rows: rows.length, inserts };
}

interface Importer<T extends { id: string }> {
  readonly entity: Entity;
  check(trx: Trx, rows: readonly CsvRow[], errors: RowError[]): Promise<Checked<T>>;
  insert(trx: Trx, rows: readonly T[]): Promise<void>;
  /** The change log's image of a row. */
  image(row: T): unknown;
}

/** Rows per INSERT: well under SQLite's bound-parameter limit for the widest table. */
const INSERT_CHUNK = 500;

// ---------------------------------------------------------------------------------------------
// Writing a CSV file

type Cell = string | null;

function csvFile(layout: readonly CsvColumn[], rows: readonly (readonly Cell[])[]): string {
  return csvText(layout.map((c) => c.name), rows);
}

/** A name when it picks out exactly one row (so the file re-imports anywhere with the same names), else the id. */
function nameOrId(rows: readonly { id: string; name: string }[], key: (s: string) => string = (s) => s): (id: string | null) => string | null {
  const count = new Map<string, number>();
  for (const r of rows) count.set(key(r.name), (count.get(key(r.name)) ?? 0) + 1);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return (id) => {
    if (id === null) return null;
    const r = byId.get(id);
    return r && count.get(key(r.name)) === 1 ? r.name : id;
  };
}

// ---------------------------------------------------------------------------------------------
// Routes

const RowErrorSchema = Type.Object(
  { path: Type.String(), message: Type.String(), line: Type.Integer(), column: Type.Union([Type.String(), Type.Null()]) },
  { additionalProperties: false },
);
const ImportProblem = Type.Object({
  type: Type.String(),
  code: Type.String(),
  status: Type.Integer(),
  title: Type.String(),
  detail: Type.String(),
  errors: Type.Optional(Type.Array(RowErrorSchema)),
});
const ImportResult = Type.Object(
  {
    dryRun: Type.Boolean(),
    rows: Type.Integer({ description: 'data rows in the file' }),
    imported: Type.Integer({ description: 'rows written (0 on a dry run)' }),
  },
  { additionalProperties: false },
);
const ImportQuery = Type.Object({ dryRun: Type.Optional(Type.Boolean({ default: false, description: 'check the whole file, write nothing' })) }, { additionalProperties: false });
const CsvBody = Type.String({ description: 'the CSV file (Content-Type: text/csv), header row first' });

const STAFF = ['admin', 'manager', 'auditor'] as const;
const WRITERS = ['admin', 'manager'] as const;

export const importExportRoutes: FastifyPluginAsync<ServerContext> = async (root, ctx) => {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const db = ctx.db;

  function importRoute<T extends { id: string; created_at: number; updated_at: number }>(entity: CsvEntity, importer: Importer<T>): void {
    const layout = CSV_LAYOUTS[entity];
    app.post(
      `/import/${entity}`,
      {
        config: { authz: { roles: WRITERS } },
        bodyLimit: MAX_IMPORT_BYTES,
        // Say plainly why a big file is refused, before reading it.
        preParsing: async (req, _reply, payload) => {
          const length = Number(req.headers['content-length'] ?? 0);
          if (length > MAX_IMPORT_BYTES) {
            throw new HttpProblem(413, 'file_too_large', `the file is ${(length / 2 ** 20).toFixed(1)} MB; an import takes at most ${MAX_IMPORT_BYTES / 2 ** 20} MB: split it into several files`);
          }
          return payload;
        },
        schema: {
          tags: ['import-export'],
          consumes: ['text/csv'],
          summary: `Import ${entity} from CSV: all rows or none (every problem is reported with its line and column)`,
          description: `Content-Type: text/csv, UTF-8 (a BOM is fine), header row first. Columns: ${layout.map((c) => `${c.name}${c.required ? ' (required)' : ''}: ${c.description}`).join('; ')}. Dates YYYY-MM-DD. At most ${MAX_IMPORT_ROWS} rows and ${MAX_IMPORT_BYTES / 2 ** 20} MB.`,
          querystring: ImportQuery,
          body: CsvBody,
          response: { 200: ImportResult, 201: ImportResult, 413: ProblemSchema, 415: ProblemSchema, 422: ImportProblem },
        },
      },
      async (req, reply) => {
        const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'text/csv' && type !== 'text/plain') throw new HttpProblem(415, 'unsupported_media_type', `send the file as Content-Type: text/csv (got ${type || 'none'})`);
        const dryRun = req.query.dryRun ?? false;
        const { rows, errors } = readCsv(req.body, layout);
        if (errors.length > 0 && rows.length === 0) throw importProblem(errors, 0);
        const now = ctx.clock.now();
        const actor = actorOf(req.principal);
        // Checked and written in one transaction, so nothing changes between the check and the write.
        const outcome = await db.transaction().execute(async (trx) => {
          const checked = await importer.check(trx, rows, errors);
          if (checked.errors.length > 0) return { errors: checked.errors, imported: 0, version: null };
          if (dryRun) return { imported: 0, version: null };
          const inserts = checked.inserts.map((r) => ({ ...r, created_at: now, updated_at: now }));
          for (let i = 0; i < inserts.length; i += INSERT_CHUNK) await importer.insert(trx, inserts.slice(i, i + INSERT_CHUNK));
          let version: number | null = null;
          for (const r of inserts) version = await recordChange(trx, { actor, entity: importer.entity, entityId: r.id, action: 'import', before: null, after: importer.image(r), at: now });
          return { imported: inserts.length, version };
        });
        if (outcome.errors !== undefined) throw importProblem(outcome.errors, rows.length);
        if (outcome.version !== null) ctx.policyChanged(outcome.version);
        return reply.code(dryRun ? 200 : 201).send({ dryRun, rows: rows.length, imported: outcome.imported });
      },
    );
  }

  importRoute('members', { entity: 'member', check: checkMembers, insert: (trx, rows) => trx.insertInto('members').values(rows).execute().then(() => undefined), image: toMember });
  importRoute('teams', { entity: 'team', check: checkTeams, insert: (trx, rows) => trx.insertInto('teams').values(rows).execute().then(() => undefined), image: toTeam });
  importRoute('badges', { entity: 'badge', check: checkBadges, insert: (trx, rows) => trx.insertInto('badges').values(rows).execute().then(() => undefined), image: badgeImage });

  const sendExport = (reply: FastifyReply, entity: CsvEntity, body: string) => sendCsv(reply, `${entity}-${new Date(ctx.clock.now()).toISOString().slice(0, 10)}.csv`, body);

  const exportRoute = (entity: CsvEntity, rows: () => Promise<Cell[][]>) =>
    app.get(
      `/export/${entity}.csv`,
      {
        config: { authz: { roles: STAFF } },
        schema: {
          tags: ['import-export'],
          summary: `Export ${entity} as CSV (UTF-8 with BOM, the import’s column layout)`,
          querystring: NoQuery,
          produces: ['text/csv'],
          response: { 200: Type.String({ description: `CSV: ${CSV_LAYOUTS[entity].map((c) => c.name).join(',')}` }) },
        },
      },
      async (_req, reply) => sendExport(reply, entity, csvFile(CSV_LAYOUTS[entity], await rows())),
    );

  exportRoute('members', async () => {
    const teamName = nameOrId(await db.selectFrom('teams').select(['id', 'name']).execute(), teamNameKey);
    const planName = nameOrId(await db.selectFrom('plans').select(['id', 'name']).execute());
    const members = await db.selectFrom('members').selectAll().orderBy('member_no').execute();
    return members.map((m) => [m.member_no, m.name, m.name_zh, m.email, m.phone, teamName(m.team_id), m.status, m.joined_on, planName(m.plan_id), m.plan_valid_from, m.plan_valid_to, m.price_group, m.bill_to, m.left_on]);
  });
  exportRoute('teams', async () => {
    const teams = await db.selectFrom('teams').selectAll().orderBy('name').orderBy('id').execute();
    return teams.map((t) => [t.name, t.name_zh, t.founded_on, t.registered_on, t.status, t.graduated_on, t.exit_on, t.exit_reason]);
  });
  exportRoute('badges', async () => {
    const badges = await db
      .selectFrom('badges')
      .innerJoin('members', 'members.id', 'badges.member_id')
      .select(['members.member_no', 'badges.format', 'badges.credential', 'badges.status', 'badges.issued_on', 'badges.note'])
      .orderBy('members.member_no')
      .orderBy('badges.issued_on')
      .orderBy('badges.created_at')
      .execute();
    return badges.map((b) => [b.member_no, b.format, b.credential, b.status, b.issued_on, b.note]);
  });
};

/** 422 listing every problem, by line; nothing was written. */
function importProblem(errors: readonly RowError[], rows: number): HttpProblem {
  const sorted = [...errors].sort((a, b) => a.line - b.line);
  const badRows = new Set(sorted.map((e) => e.line)).size;
  const detail =
    rows === 0
      ? `the file cannot be read: ${sorted.map((e) => `line ${e.line}${e.column ? ` (${e.column})` : ''}: ${e.message}`).join('; ')}; nothing was imported`
      : `${badRows} of ${rows} rows have problems (${sorted.length} in all, listed in errors); nothing was imported: fix them and send the whole file again`;
  const list = sorted.map((e) => ({ path: `line ${e.line}${e.column ? `/${e.column}` : ''}`, message: e.message, line: e.line, column: e.column }));
  return problems.unprocessable(detail, list);
}
