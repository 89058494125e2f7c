/**
 * `npm run dashboards`: writes dashboards/json/*.json from dashboards/src/
 * and removes JSON files no dashboard produces any more.
 * `npm run dashboards -- --check`: writes nothing; exits 1 naming the files
 * that differ (tests/unit/dashboards.test.ts makes the same check).
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JSON_DIR, renderAll } from './render.js';

async function main(check: boolean): Promise<number> {
  const want = renderAll();
  await mkdir(JSON_DIR, { recursive: true });
  const have = (await readdir(JSON_DIR)).filter((f) => f.endsWith('.json'));
  const stale: string[] = [];
  for (const [file, text] of want) {
    const current = await readFile(join(JSON_DIR, file), 'utf8').catch(() => null);
    if (current === text) continue;
    stale.push(file);
    if (!check) await writeFile(join(JSON_DIR, file), text);
  }
  for (const file of have) {
    if (want.has(file)) continue;
    stale.push(file);
    if (!check) await rm(join(JSON_DIR, file));
  }
  if (check && stale.length > 0) {
    console.error(`dashboards/json is stale (${stale.join(', ')}): run npm run dashboards`);
    return 1;
  }
  console.log(stale.length === 0 ? 'dashboards/json is current' : `dashboards/json: wrote ${stale.join(', ')}`);
  return 0;
}

process.exitCode = await main(process.argv.includes('--check'));
