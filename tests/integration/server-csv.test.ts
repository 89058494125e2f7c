/**
 * CSV import and export of members, teams and badges: whole-file checks with
 * every problem by line and column, all-or-nothing imports, dry runs, limits,
 * and an export that re-imports into an empty database unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestServer, type TestServer } from '../harness/server.js';

let s: TestServer;
beforeAll(async () => {
  s = await makeTestServer();
});
afterAll(async () => {
  await s.close();
});

type RowError = { path: string; line: number; column: string | null; message: string };
type ImportProblem = { code: string; status: number; detail: string; errors: RowError[] };

const BOM = '\uFEFF';
const crlf = (lines: string[]) => `${lines.join('\r\n')}\r\n`;
const count = async (table: 'members' | 'teams' | 'badges') => Number((await s.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
const errorsOf = (body: ImportProblem) => body.errors.map((e) => [e.line, e.column, e.message]);

describe('importing teams, then members, then badges', () => {
  const teams = crlf([
    'name,nameZh,foundedOn,registeredOn,status,exitOn,exitReason',
    'Kappa Materials,卡帕材料,2025-05-01,2025-09-01,,,',
    'Lambda AI,兰姆达智能,,2026/3/5,graduated,,',
    '"Mu, Ltd",穆有限公司,,2024-01-01,exited,2025-12-31,"moved out, 迁出"',
  ]);

  it('checks a dry run without writing anything', async () => {
    const [n, changes, versions] = [await count('teams'), await s.lastChangeId(), s.policyVersions.length];
    const res = await s.request('manager', 'POST', '/api/v1/import/teams?dryRun=true', BOM + teams);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ dryRun: true, rows: 3, imported: 0 });
    expect([await count('teams'), await s.lastChangeId(), s.policyVersions.length]).toEqual([n, changes, versions]);
  });

  it('imports teams (BOM, CRLF, Chinese, a quoted comma, 2026/3/5 dates), one change-log entry per row', async () => {
    const before = await s.lastChangeId();
    const res = await s.request('manager', 'POST', '/api/v1/import/teams', BOM + teams);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ dryRun: false, rows: 3, imported: 3 });
    const changes = await s.changesAfter(before);
    expect(changes.map((c) => [c.entity, c.action, c.actor])).toEqual(Array(3).fill(['team', 'import', 'user:manager']));
    expect(changes.map((c) => (c.after as { name: string }).name)).toEqual(['Kappa Materials', 'Lambda AI', 'Mu, Ltd']);
    expect(s.policyVersions.at(-1)).toBe(changes.at(-1)!.id);
    const mu = (await s.request('admin', 'GET', '/api/v1/teams?q=Mu%2C')).json<Record<string, unknown>[]>()[0];
    expect(mu).toMatchObject({ nameZh: '穆有限公司', status: 'exited', exitOn: '2025-12-31', exitReason: 'moved out, 迁出' });
    const lambda = (await s.request('admin', 'GET', '/api/v1/teams?q=Lambda')).json<Record<string, unknown>[]>()[0];
    expect(lambda).toMatchObject({ registeredOn: '2026-03-05', status: 'graduated', foundedOn: null });
  });

  it('imports members referring to teams by name, Chinese name or id, and to the plan by name', async () => {
    const file = crlf([
      'memberNo,name,nameZh,email,phone,team,status,joinedOn,plan,planValidFrom,planValidTo',
      'K-001,Chen Yi,陈一,chen.yi@example.cn,+86 138 0000 0101,Kappa Materials,,2025-09-01,Standard,2025-09-01,2026-08-31',
      'K-002,Chen Er,陈二,,,兰姆达智能,active,2026-03-05,,,',
      `K-003,Chen San,陈三,,,${s.seed.teams.a},suspended,2026-01-01,标准会员,,`,
      'K-004,Chen Si,,,,,,2026-02-01,,,',
      ',,,,,,,,,,',
    ]);
    const before = await s.lastChangeId();
    const res = await s.request('admin', 'POST', '/api/v1/import/members', BOM + file);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ dryRun: false, rows: 4, imported: 4 });
    expect((await s.changesAfter(before)).every((c) => c.entity === 'member' && c.action === 'import')).toBe(true);
    const list = (await s.request('admin', 'GET', '/api/v1/members?q=K-00')).json<Record<string, unknown>[]>();
    expect(list.map((m) => [m.memberNo, m.nameZh, m.status])).toEqual([
      ['K-001', '陈一', 'active'],
      ['K-002', '陈二', 'active'],
      ['K-003', '陈三', 'suspended'],
      ['K-004', null, 'active'],
    ]);
    expect(list[0]).toMatchObject({ planId: s.seed.plan, planValidTo: '2026-08-31', phone: '+86 138 0000 0101' });
    expect(list[2]).toMatchObject({ teamId: s.seed.teams.a, planId: s.seed.plan });
  });

  it('imports a price group and personal billing, and refuses an unknown billing choice naming the cell', async () => {
    const header = 'memberNo,name,joinedOn,priceGroup,billTo';
    const bad = await s.request('admin', 'POST', '/api/v1/import/members', BOM + crlf([header, 'P-001,Pan Yi,2026-01-01,student,parent']));
    expect(bad.statusCode).toBe(422);
    expect(JSON.stringify(bad.json())).toContain('billTo');
    const res = await s.request('admin', 'POST', '/api/v1/import/members', BOM + crlf([header, 'P-001,Pan Yi,2026-01-01,student,self', 'P-002,Pan Er,2026-01-01,,']));
    expect(res.statusCode).toBe(201);
    const list = (await s.request('admin', 'GET', '/api/v1/members?q=P-00')).json<Record<string, unknown>[]>();
    expect(list.map((m) => [m.memberNo, m.priceGroup, m.billTo])).toEqual([
      ['P-001', 'student', 'self'],
      ['P-002', null, 'team'],
    ]);
  });

  it('imports badges for members from the database and from the earlier import; a returned card may be listed again', async () => {
    const file = crlf([
      'memberNo,format,credential,status,issuedOn,note',
      'K-001,em4100,00ff00ff00,returned,2025-09-01,"lost,\nthen found"',
      'K-002,em4100,00FF00FF00,,2026-03-05,',
      'K-003,wiegand26,12:345,active,2026-01-01,',
      'M-0002,uid,04a1b2c3d4e5f6a7b8c9,lost,2026-02-01,挂失',
    ]);
    const res = await s.request('admin', 'POST', '/api/v1/import/badges', file);
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ dryRun: false, rows: 4, imported: 4 });
    const holders = (await s.request('auditor', 'GET', '/api/v1/badges?credential=00ff00ff00')).json<{ memberNo: string; status: string; note: string | null }[]>();
    expect(holders.map((b) => [b.memberNo, b.status, b.note])).toEqual([
      ['K-001', 'returned', 'lost,\nthen found'],
      ['K-002', 'active', null],
    ]);
  });
});

describe('a file with problems', () => {
  it('reports every bad row with its line, column and reason, and imports nothing', async () => {
    const file = [
      'memberNo,name,nameZh,email,phone,team,status,joinedOn,plan,planValidFrom,planValidTo,leftOn', // 1
      'M-0001,Dup In Database,,,,,,2026-01-01,,,,', // 2
      'N-002,Bad Date,,,,,,2026-02-30,,,,', // 3
      'N-003,Fine,,,,,,2026-01-01,,,,', // 4
      'N-004,No Team,,,,Nope Team,,2026-01-01,,,,', // 5
      'N-003,Dup In File,,,,,,2026-01-01,,,,', // 6
      'N-006,Two Problems,,not-mail,,,gone,2026-01-01,,,,', // 7
      'N-007,Left Without Date,,,,,left,2026-01-01,,,,', // 8
      '', // 9: blank lines are not rows
      'N-008,"Two', // 10
      'Lines",,,,,,2026-01-01,,,,', // 11
      'N-009,,,,,,,,Premium,2026-01-01,,', // 12
      'N-010,Validity Without Plan,,,,,,2026-01-01,,2026-01-01,,', // 13
      'N-011,Too Many,,,,,,2026-01-01,,,,,extra', // 14
      'N-012,Left Before Joining,,,,,left,2026-01-01,,,,2025-12-31', // 15
    ].join('\n');
    const [n, changes, versions] = [await count('members'), await s.lastChangeId(), s.policyVersions.length];
    const res = await s.request('admin', 'POST', '/api/v1/import/members', file);
    expect(res.statusCode).toBe(422);
    const body = res.json<ImportProblem>();
    expect(body.detail).toBe('11 of 12 rows have problems (14 in all, listed in errors); nothing was imported: fix them and send the whole file again');
    expect(errorsOf(body)).toEqual([
      [2, 'memberNo', `member number M-0001 already exists (member ${s.seed.members.a})`],
      [3, 'joinedOn', 'joinedOn "2026-02-30" is not a date: write YYYY-MM-DD (2024/3/5 works too)'],
      [5, 'team', 'there is no team with the id or name "Nope Team"'],
      [6, 'memberNo', 'member number N-003 is already on line 4'],
      [7, 'email', 'email is not an e-mail address'],
      [7, 'status', 'status "gone" is not one of active, suspended, left'],
      [8, 'leftOn', 'a member who left needs leftOn, the date they left'],
      [10, 'name', 'name must be on one line'],
      [12, 'name', 'name is required'],
      [12, 'joinedOn', 'joinedOn is required'],
      [12, 'plan', 'there is no plan with the id or name "Premium"'],
      [13, 'planValidFrom', 'plan validity dates need a plan'],
      [14, null, 'the row has 13 fields; the header has 12'],
      [15, 'leftOn', 'leftOn 2025-12-31 is before joinedOn 2026-01-01'],
    ]);
    expect(body.errors[0]!.path).toBe('line 2/memberNo');
    expect(body.errors.find((e) => e.column === null)!.path).toBe('line 14');
    expect([await count('members'), await s.lastChangeId(), s.policyVersions.length]).toEqual([n, changes, versions]);
  });

  it('reports duplicates within the file and against the database for teams (names ignore case)', async () => {
    const file = crlf(['name,registeredOn,status,exitOn,exitReason,graduatedOn', 'Nu Robotics,2026-01-01,,,,', 'NU ROBOTICS,2026-01-01,,,,', 'beta bio,2026-01-01,,,,', 'Xi,2026-01-01,exited,,,', 'Omicron,2026-01-01,,2026-02-01,,', 'Pi,2026-01-01,exited,2025-01-01,bankrupt,', 'Rho,2026-01-01,incubating,,,2026-06-01', 'Sigma,2026-01-01,graduated,,,2025-12-31']);
    const res = await s.request('admin', 'POST', '/api/v1/import/teams', file);
    expect(res.statusCode).toBe(422);
    expect(errorsOf(res.json<ImportProblem>())).toEqual([
      [3, 'name', 'a team called NU ROBOTICS is already on line 2'],
      [4, 'name', `a team called Beta Bio already exists (${s.seed.teams.b}); team names are unique`],
      [5, 'exitOn', 'an exited team needs exitOn, the date it left'],
      [5, 'exitReason', 'an exited team needs exitReason, why it left'],
      [6, 'exitOn', 'exitOn is only for an exited team; this one is incubating'],
      [7, 'exitOn', 'exitOn 2025-01-01 is before registeredOn 2026-01-01'],
      [8, 'graduatedOn', 'graduatedOn is only for a graduated team; this one is incubating'],
      [9, 'graduatedOn', 'graduatedOn 2025-12-31 is before registeredOn 2026-01-01'],
    ]);
    expect(await count('teams')).toBe((await s.db.selectFrom('teams').select('id').execute()).length);
  });

  it('reports badge problems: unknown members, bad formats and card ids, cards held in the file or the database', async () => {
    const n = await count('badges');
    const file = crlf([
      'memberNo,format,credential,status,issuedOn,note',
      'M-9999,uid,DEADBEEF,,2026-01-01,', // 2
      'M-0002,mifare,DEADBEEF,,2026-01-01,', // 3
      'M-0002,em4100,DEADBEEF,,2026-01-01,', // 4
      'M-0002,uid,DEADBEEF,,2026-01-01,', // 5
      'M-0001,uid,deadbeef,lost,2026-01-01,', // 6
      'M-0002,em4100,0a1b2c3d4e,,2026-01-01,', // 7
      'M-0002,wiegand26,1:2,active,,', // 8
    ]);
    const res = await s.request('admin', 'POST', '/api/v1/import/badges', file);
    expect(res.statusCode).toBe(422);
    expect(errorsOf(res.json<ImportProblem>())).toEqual([
      [2, 'memberNo', 'there is no member with the number M-9999'],
      [3, 'format', 'format "mifare" is not one of uid, em4100, wiegand26'],
      [4, 'credential', 'credential "DEADBEEF" is not a em4100 card id: expected 10 hex digits'],
      // Line 2's member is unknown, but it claims the card all the same: fixing the member would leave a clash.
      [5, 'credential', 'the uid card DEADBEEF is already held on line 2'],
      [6, 'credential', 'the uid card DEADBEEF is already held on line 2'],
      [7, 'credential', `the em4100 card 0A1B2C3D4E is held by member M-0001 (badge ${s.seed.badges.a}); mark that badge returned first`],
      [8, 'issuedOn', 'issuedOn is required'],
    ]);
    expect(await count('badges')).toBe(n);
  });

  it.each([
    ['an unknown column', 'memberNo,name,joinedOn,shoeSize\n', [[1, 'shoeSize', 'unknown column "shoeSize"; the columns are memberNo, name, nameZh, email, phone, team, status, joinedOn, plan, planValidFrom, planValidTo, priceGroup, billTo, leftOn']]],
    ['a missing required column', 'memberNo,name\nX-1,Y\n', [[1, 'joinedOn', 'the header has no column joinedOn, which is required']]],
    ['a column twice', 'memberNo,name,joinedOn,Name\n', [[1, 'Name', 'column name appears twice']]],
    ['no header', '', [[1, null, 'the first line must be the header: memberNo,name,nameZh,email,phone,team,status,joinedOn,plan,planValidFrom,planValidTo,priceGroup,billTo,leftOn']]],
    ['a quote never closed', 'memberNo,name,joinedOn\nX-1,"Y,2026-01-01\nX-2,Z,2026-01-01\n', [[2, null, expect.stringMatching(/^the row starting here is not valid CSV: Quote Not Closed/) as string]]],
  ])('refuses a file with %s (422, line 1 or where it breaks)', async (_what, file, expected) => {
    const res = await s.request('admin', 'POST', '/api/v1/import/members', file);
    expect(res.statusCode).toBe(422);
    expect(errorsOf(res.json<ImportProblem>())).toEqual(expected);
  });

  it('takes the columns in any order and any case', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/import/members?dryRun=true', 'JOINEDON,Name,MemberNo\n2026-01-01,Rho,R-1\n');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ dryRun: true, rows: 1, imported: 0 });
  });
});

describe('limits and content', () => {
  const rows = (n: number) => `memberNo,name,joinedOn\n${Array.from({ length: n }, (_, i) => `B-${i},Bulk ${i},2026-01-01`).join('\n')}\n`;

  it('refuses 50,001 rows with a clear message', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/import/members', rows(50_001));
    expect(res.statusCode).toBe(413);
    expect(res.json<ImportProblem>().detail).toBe('the file has more than 50,000 rows; an import takes at most 50,000: split it into several files');
  });

  it('imports 50,000 rows in one go, one change-log entry each', async () => {
    const bulk = await makeTestServer({ bare: true });
    try {
      const res = await bulk.request('admin', 'POST', '/api/v1/import/members', rows(50_000));
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ dryRun: false, rows: 50_000, imported: 50_000 });
      expect(await bulk.changesAfter(0).then((c) => c.filter((e) => e.action === 'import').length)).toBe(50_000);
      expect(bulk.policyVersions).toEqual([await bulk.lastChangeId()]);
    } finally {
      await bulk.close();
    }
  });

  it('refuses files over 10 MB before reading them', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/import/teams', 'x'.repeat(10 * 1024 * 1024 + 1));
    expect(res.statusCode).toBe(413);
    expect(res.json<ImportProblem>().detail).toBe('the file is 10.0 MB; an import takes at most 10 MB: split it into several files');
  });

  it('wants text/csv', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/import/teams', JSON.stringify('name,registeredOn\nA,2026-01-01\n'), { 'content-type': 'application/json' });
    expect(res.statusCode).toBe(415);
  });

  it('is for admins and managers; exports are for staff', async () => {
    expect((await s.request('auditor', 'POST', '/api/v1/import/teams', 'name,registeredOn\n')).statusCode).toBe(403);
    expect((await s.request('memberA', 'POST', '/api/v1/import/teams', 'name,registeredOn\n')).statusCode).toBe(403);
    expect((await s.request('memberA', 'GET', '/api/v1/export/members.csv')).statusCode).toBe(403);
    expect((await s.request(null, 'GET', '/api/v1/export/members.csv')).statusCode).toBe(401);
  });
});

describe('export', () => {
  it('writes UTF-8 with a BOM, CRLF, as an attachment, in the import’s layout', async () => {
    const res = await s.request('auditor', 'GET', '/api/v1/export/teams.csv');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename="teams-2026-11-25.csv"');
    expect(res.body.startsWith(`${BOM}name,nameZh,foundedOn,registeredOn,status,graduatedOn,exitOn,exitReason\r\n`)).toBe(true);
    expect(res.body).toContain('\r\nAlpha Robotics,阿尔法机器人,2025-01-10,2025-03-01,incubating,,,\r\n');
    expect(res.body).toContain('\r\n"Mu, Ltd",穆有限公司,,2024-01-01,exited,,2025-12-31,"moved out, 迁出"\r\n');
    const members = await s.request('admin', 'GET', '/api/v1/export/members.csv');
    expect(members.body.split('\r\n')[0]).toBe(`${BOM}memberNo,name,nameZh,email,phone,team,status,joinedOn,plan,planValidFrom,planValidTo,priceGroup,billTo,leftOn`);
    expect(members.body).toContain('\r\nM-0001,Zhang San,张三,zhang.san@example.cn,,Alpha Robotics,active,2025-03-01,Standard,2026-01-01,2026-12-31,,team,\r\n');
    const badges = await s.request('admin', 'GET', '/api/v1/export/badges.csv');
    expect(badges.body.split('\r\n')[0]).toBe(`${BOM}memberNo,format,credential,status,issuedOn,note`);
  });

  it('neutralises cells a spreadsheet would run as formulas, but not phone numbers', async () => {
    const res = await s.request('admin', 'POST', '/api/v1/members', { memberNo: 'F-1', name: '=HYPERLINK("http://evil.example","x")', phone: '+86 139 0000 0000', joinedOn: '2026-01-01' });
    expect(res.statusCode).toBe(201);
    const csv = (await s.request('admin', 'GET', '/api/v1/export/members.csv')).body;
    expect(csv).toContain('\r\nF-1,"\'=HYPERLINK(""http://evil.example"",""x"")",,,+86 139 0000 0000,,active,2026-01-01,,,,,team,\r\n');
  });
});

describe('round trip', () => {
  it('imports an export into an empty database and exports the same files again', async () => {
    // Some history worth carrying: a member who left, a team that exited, a returned badge.
    await s.request('admin', 'PATCH', `/api/v1/members/${s.seed.members.b}`, { status: 'left', leftOn: '2026-11-20' });
    const exported = {
      teams: (await s.request('admin', 'GET', '/api/v1/export/teams.csv')).body,
      members: (await s.request('admin', 'GET', '/api/v1/export/members.csv')).body,
      badges: (await s.request('admin', 'GET', '/api/v1/export/badges.csv')).body,
    };
    const fresh = await makeTestServer({ bare: true });
    try {
      // Plans are not part of the CSV files: the new space sets its plans up first.
      await fresh.db.insertInto('plans').values({ id: 'plan_other_id', name: 'Standard', name_zh: '标准会员', spaces: '[]', hours: '[]', quotas: '{}', active: 1, created_at: 0, updated_at: 0 }).execute();
      for (const entity of ['teams', 'members', 'badges'] as const) {
        const res = await fresh.request('admin', 'POST', `/api/v1/import/${entity}`, exported[entity]);
        expect(res.statusCode, `${entity}: ${res.body.slice(0, 500)}`).toBe(201);
      }
      for (const entity of ['teams', 'members', 'badges'] as const) {
        expect((await fresh.request('auditor', 'GET', `/api/v1/export/${entity}.csv`)).body).toBe(exported[entity]);
      }
      expect(exported.members).toContain('\r\nM-0002,Li Si,李四,,+86 138 0000 0002,Beta Bio,left,2025-06-01,,,,,team,2026-11-20\r\n');
      // A line break inside a cell stays a bare \n (as Excel writes it); rows end in \r\n.
      expect(exported.badges).toContain('\r\nK-001,em4100,00FF00FF00,returned,2025-09-01,"lost,\nthen found"\r\n');
      const m = (await fresh.request('admin', 'GET', '/api/v1/members?q=F-1')).json<{ name: string }[]>();
      expect(m[0]?.name).toBe('=HYPERLINK("http://evil.example","x")');
    } finally {
      await fresh.close();
    }
  });
});
