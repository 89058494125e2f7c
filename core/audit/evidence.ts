/**
 * An auditor's evidence bundle for a closed month (docs/audit.md, "Evidence
 * bundle"), and its check away from the server — with this module alone, no
 * database, no InfluxDB:
 *
 * 1. The server's audit log up to a signed checkpoint: every entry's body, so
 *    the tree head is rebuilt (the independent verifier's HeadBuilder) and the
 *    checkpoint's Ed25519 signature checked (against the keys in the bundle;
 *    the auditor says which key ids they trust).
 * 2. From the log alone: the month's close (its statements digest and the
 *    pricing inputs), the rate card it names, and the charges frozen.
 * 3. The raw records of the month (and the look-back before it) with the
 *    site's configuration as pricing saw it (its digest is in the close): the
 *    month is priced again (core/accounting/reproduce.ts) and compared with
 *    the frozen digest and, line by line, with the frozen charges.
 */
import { checkSignature, publicKeyFromRaw, signedFromJson } from './checkpoint.js';
import { HeadBuilder, verifierLeafHash } from './rfc9162-verify.js';
import { chargeLine, lineDifferences, partyLines, priceMonthFromRecords, siteDigest, statementsDigest, type BillingInputs, type LineDifference, type PartyLine } from '../accounting/reproduce.js';
import type { PricingResources } from '../accounting/price.js';
import type { RateCardInput } from '../accounting/rates.js';
import type { JournalRecord } from '../signals.js';
import type { SessioniserConfig } from '../usage/sessioniser.js';

export const EVIDENCE_FORMAT = 'openfacility-evidence/v1';

export interface EvidenceBundle {
  readonly format: typeof EVIDENCE_FORMAT;
  readonly site: string;
  readonly month: string;
  readonly generatedAt: number;
  readonly config: SessioniserConfig;
  readonly resources: PricingResources;
  readonly records: readonly JournalRecord[];
  readonly server: {
    readonly origin: string;
    readonly keys: readonly { readonly keyId: string; readonly publicKey: string }[];
    readonly checkpoint: { readonly size: number; readonly root: string; readonly time: number; readonly keyId: string; readonly sig: string };
    /** Entries 1..checkpoint.size, in order. */
    readonly entries: readonly string[];
  };
}

export interface EvidenceCheck {
  readonly ok: boolean;
  /** What does not hold, in the order checked; empty when everything does. */
  readonly problems: readonly string[];
  readonly checkpoint: { readonly size: number; readonly keyId: string; readonly trusted: boolean };
  readonly frozenSha256: string | null;
  readonly recomputedSha256: string | null;
  readonly differences: readonly LineDifference[];
  readonly totals: { readonly frozenAmountMinor: number; readonly recomputedAmountMinor: number } | null;
}

interface LoggedRow {
  readonly table: string;
  readonly [k: string]: unknown;
}

/** Checks a bundle; `trustedKeyIds`: the server keys the auditor trusts (none given: any key in the bundle, reported untrusted). */
export function verifyEvidence(b: EvidenceBundle, trustedKeyIds: readonly string[] = []): EvidenceCheck {
  const problems: string[] = [];
  const cp = b.server.checkpoint;
  const trusted = trustedKeyIds.includes(cp.keyId);
  const result = (extra: Partial<EvidenceCheck>): EvidenceCheck => ({
    ok: problems.length === 0,
    problems,
    checkpoint: { size: cp.size, keyId: cp.keyId, trusted },
    frozenSha256: null,
    recomputedSha256: null,
    differences: [],
    totals: null,
    ...extra,
  });
  if ((b.format as string) !== EVIDENCE_FORMAT) {
    problems.push(`not an evidence bundle of format ${EVIDENCE_FORMAT}`);
    return result({});
  }
  if (trustedKeyIds.length > 0 && !trusted) problems.push(`the checkpoint is signed by key ${cp.keyId}, which is not one you trust`);

  // 1. The log up to the checkpoint.
  if (b.server.entries.length !== cp.size) problems.push(`the bundle has ${b.server.entries.length} log entries; the checkpoint covers ${cp.size}`);
  const heads = new HeadBuilder();
  for (const e of b.server.entries) heads.push(verifierLeafHash(Buffer.from(e, 'utf8')));
  if (Buffer.from(heads.root()).toString('base64') !== cp.root) problems.push("the log entries do not give the checkpoint's root: the log was changed");
  const keys = new Map(b.server.keys.map((k) => [k.keyId, publicKeyFromRaw(k.publicKey)]));
  const bad = checkSignature(signedFromJson({ ...cp, origin: b.server.origin }), keys);
  if (bad) problems.push(`checkpoint: ${bad}`);
  if (problems.length > 0) return result({});

  // 2. The close, its rate card and its charges, from the log.
  const rows = b.server.entries.map((e) => JSON.parse(e) as LoggedRow);
  const close = rows.find((r) => r.table === 'billing_periods' && r.site_id === b.site && r.period === b.month);
  if (!close) {
    problems.push(`the log up to the checkpoint has no close of ${b.month} for ${b.site}`);
    return result({});
  }
  if (typeof close.inputs !== 'string') {
    problems.push(`${b.month} was closed without its pricing inputs: it cannot be priced again exactly`);
    return result({});
  }
  const inputs = JSON.parse(close.inputs) as BillingInputs;
  const frozenSha256 = String(close.statements_sha256);
  const cardRow = rows.find((r) => r.table === 'rate_cards' && r.id === inputs.rateCardId);
  if (!cardRow) {
    problems.push(`the rate card ${inputs.rateCardId} the month was priced with is not in the log`);
    return result({ frozenSha256 });
  }
  if (inputs.siteSha256 !== undefined && inputs.siteSha256 !== siteDigest(b.config, b.resources)) {
    problems.push("the bundle's site configuration is not the one the month was priced with (its digest differs from the close's)");
  }
  const frozen: PartyLine[] = rows
    .filter((r) => r.table === 'ledger_entries' && r.site_id === b.site && r.period === b.month && r.kind === 'charge')
    .map((r) => ({ party: { kind: String(r.party_type), id: String(r.party_id) }, line: chargeLine(String(r.line)).line }));

  // 3. Price it again from the records.
  const priced = priceMonthFromRecords({ month: b.month, config: b.config, resources: b.resources, records: b.records, inputs, rateCard: JSON.parse(String(cardRow.card)) as RateCardInput });
  const recomputedSha256 = statementsDigest(priced);
  const now = partyLines(priced);
  const differences = lineDifferences(frozen, now);
  if (recomputedSha256 !== frozenSha256) problems.push(`the records price to statements with digest ${recomputedSha256}; the month was closed with ${frozenSha256}`);
  const sum = (ls: readonly PartyLine[]) => ls.reduce((n, l) => n + l.line.amountMinor, 0);
  return result({ frozenSha256, recomputedSha256, differences, totals: { frozenAmountMinor: sum(frozen), recomputedAmountMinor: sum(now) } });
}
