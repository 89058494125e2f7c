/**
 * `facility audit verify-evidence <file>`: checks an auditor's evidence bundle
 * (GET /api/v1/statements/YYYY-MM/evidence) on any machine, with nothing but
 * this tool: the server's log against its signed checkpoint, then the month
 * priced again from the raw records, to the cent and line by line
 * (core/audit/evidence.ts, docs/audit.md).
 */
import { readFileSync } from 'node:fs';
import { verifyEvidence, type EvidenceBundle } from '../core/audit/evidence.js';

const money = (minor: number) => (minor / 100).toFixed(2);

/** Returns the exit code: 0 the bundle holds, 1 it does not (or cannot be read). */
export function runVerifyEvidence(path: string, trustedKeyIds: readonly string[], out: (line: string) => void): number {
  let bundle: EvidenceBundle;
  try {
    bundle = JSON.parse(readFileSync(path, 'utf8')) as EvidenceBundle;
  } catch (e) {
    out(`BROKEN: ${path} cannot be read as an evidence bundle: ${(e as Error).message}`);
    return 1;
  }
  let r;
  try {
    r = verifyEvidence(bundle, trustedKeyIds);
  } catch (e) {
    out(`BROKEN: ${path} is not a complete evidence bundle: ${(e as Error).message}`);
    return 1;
  }
  out(`${bundle.site} ${bundle.month}: ${bundle.records.length.toLocaleString('en-US')} raw records, server log of ${r.checkpoint.size.toLocaleString('en-US')} entries signed by key ${r.checkpoint.keyId}${r.checkpoint.trusted ? ' (trusted)' : trustedKeyIds.length === 0 ? ' (say --trust-key to require it)' : ' (NOT trusted)'}`);
  if (r.totals) out(`charged when closed ${money(r.totals.frozenAmountMinor)}, priced again now ${money(r.totals.recomputedAmountMinor)}`);
  for (const d of r.differences) {
    out(`  ${d.change}: ${d.line}`);
    for (const f of d.fields) out(`      ${f.field}: ${String(f.frozen)} → ${String(f.now)}`);
  }
  if (r.ok) {
    out(`OK: the month reproduces to the cent (statements digest ${r.recomputedSha256 ?? ''})`);
    return 0;
  }
  for (const p of r.problems) out(`BROKEN: ${p}`);
  return 1;
}
