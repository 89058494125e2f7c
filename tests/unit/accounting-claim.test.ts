/** core/accounting/claim.ts: a month's subsidy claim by category, hand-computed. */
import { describe, expect, it } from 'vitest';
import { categoryOfService, subsidyClaim, type ClaimLedgerEntry, type ClaimService } from '../../core/accounting/claim.js';

const charge = (resourceClass: string, amountMinor: number, referenceMinor: number, quantity: number, quantityUnit: string, records: number[]): ClaimLedgerEntry => ({
  kind: 'charge',
  resourceClass,
  amountMinor,
  referenceMinor,
  quantity,
  quantityUnit,
  sessions: records.map((count) => ({ count })),
});

describe('subsidy claim', () => {
  it('a no-show fee is a fee collected, not a delivery, and claims nothing (its reference equals it)', () => {
    const claim = subsidyClaim('CNY', [charge('machine:laser-cutter', 2700, 10_800, 54, 'minute', [12]), charge('machine:laser-cutter', 2000, 2000, 1, 'booking', [])], []);
    expect(claim.lines.find((l) => l.category === 'shared_equipment')).toMatchObject({ deliveries: 1, hours: 0.9, referenceMinor: 12_800, feesMinor: 4700, claimableMinor: 8100, evidence: { charges: 2, sessions: 1, records: 12 } });
  });

  it('adds up metered usage and recorded services by category, with the evidence behind each number', () => {
    const entries: ClaimLedgerEntry[] = [
      charge('machine:laser-cutter', 2700, 10_800, 54, 'minute', [12]),
      charge('machine:laser-cutter', 2700, 10_800, 54, 'minute', [11, 3]),
      { kind: 'adjustment', resourceClass: 'machine:laser-cutter', amountMinor: -600, referenceMinor: 0 },
      charge('desk:hot', 500, 5000, 1, 'day', [4]),
      charge('space:lab', 0, 3000, 90, 'minute', [2]),
    ];
    const services: ClaimService[] = [
      { kind: 'training', minutes: 90, participants: 12, feeMinor: 0, referenceMinor: 40_000 },
      { kind: 'event', minutes: 180, participants: 41, feeMinor: 2000, referenceMinor: 500_000 },
      { kind: 'investment', minutes: 60, participants: 2, feeMinor: 0, referenceMinor: 30_000 },
      { kind: 'technical', minutes: 30, participants: 1, feeMinor: 1000, referenceMinor: 6000 },
    ];
    const claim = subsidyClaim('CNY', entries, services);
    const by = Object.fromEntries(claim.lines.map((l) => [l.category, l]));
    // Machines: two charges (54 + 54 min) and a 6-yuan refund; the technical service too.
    expect(by.shared_equipment).toEqual({
      category: 'shared_equipment',
      deliveries: 3,
      hours: 2.3,
      days: 0,
      kwh: 0,
      participants: 1,
      referenceMinor: 10_800 * 2 + 6000,
      feesMinor: 2700 * 2 - 600 + 1000,
      costsMinor: 0,
      claimableMinor: 27_600 - 5800,
      evidence: { charges: 2, adjustments: 1, sessions: 3, records: 26, services: 1, costs: 0 },
    });
    // Space: a hot-desk day and 90 free lab minutes.
    expect(by.space).toMatchObject({ deliveries: 2, hours: 1.5, days: 1, referenceMinor: 8000, feesMinor: 500, claimableMinor: 7500, evidence: { charges: 2, adjustments: 0, sessions: 2, records: 6, services: 0, costs: 0 } });
    expect(by.training).toMatchObject({ deliveries: 1, hours: 1.5, participants: 12, referenceMinor: 40_000, feesMinor: 0, claimableMinor: 40_000 });
    expect(by.mentoring).toMatchObject({ deliveries: 1, hours: 1, participants: 2, claimableMinor: 30_000 });
    expect(by.events).toMatchObject({ deliveries: 1, hours: 3, participants: 41, referenceMinor: 500_000, feesMinor: 2000, claimableMinor: 498_000 });
    expect(claim.total).toMatchObject({ deliveries: 8, referenceMinor: 27_600 + 8000 + 40_000 + 30_000 + 500_000, feesMinor: 5800 + 500 + 2000 });
    expect(claim.total.claimableMinor).toBe(claim.lines.reduce((a, l) => a + l.claimableMinor, 0));
  });

  it('never claims a negative gap, and one category does not offset another', () => {
    const claim = subsidyClaim('CNY', [charge('room', 9000, 5000, 60, 'minute', [1]), charge('machine:cnc', 1000, 4000, 60, 'minute', [1])], []);
    expect(claim.lines.find((l) => l.category === 'space')!.claimableMinor).toBe(0);
    expect(claim.lines.find((l) => l.category === 'shared_equipment')!.claimableMinor).toBe(3000);
    expect(claim.total.claimableMinor).toBe(3000);
  });

  it('claims broadband and software at their costs; rent and hardware costs are evidence beside the gap, not added to it', () => {
    const claim = subsidyClaim(
      'CNY',
      [charge('desk:hot', 500, 5000, 1, 'day', [4])],
      [],
      [
        { category: 'broadband', amountMinor: 120_000 },
        { category: 'broadband', amountMinor: 30_000 },
        { category: 'software', amountMinor: 88_800 },
        { category: 'space', amountMinor: 2_000_000 },
      ],
    );
    const by = Object.fromEntries(claim.lines.map((l) => [l.category, l]));
    expect(claim.lines.map((l) => l.category)).toEqual(['space', 'broadband', 'shared_equipment', 'software', 'training', 'mentoring', 'events']);
    expect(by.broadband).toMatchObject({ deliveries: 0, referenceMinor: 0, feesMinor: 0, costsMinor: 150_000, claimableMinor: 150_000, evidence: { costs: 2, charges: 0 } });
    expect(by.software).toMatchObject({ costsMinor: 88_800, claimableMinor: 88_800, evidence: { costs: 1 } });
    // Space: the gap 5000 − 500 only; the 20,000-yuan rent is shown, not claimed again.
    expect(by.space).toMatchObject({ costsMinor: 2_000_000, claimableMinor: 4500, evidence: { costs: 1, charges: 1 } });
    expect(claim.total).toMatchObject({ costsMinor: 2_238_800, claimableMinor: 150_000 + 88_800 + 4500, evidence: { costs: 4 } });
  });

  it('maps every service kind to a category', () => {
    expect((['training', 'mentoring', 'event', 'technical', 'investment'] as const).map(categoryOfService)).toEqual(['training', 'mentoring', 'events', 'shared_equipment', 'mentoring']);
  });
});
