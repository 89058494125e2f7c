/**
 * The access-policy snapshot: the contract between the server, which builds it
 * (server/policy/snapshot.ts), and the gateways, which keep it and decide from
 * it at the edge (gateway/policy/). Everything a gateway needs to decide door
 * and machine access, and nothing personal: no names, e-mails or phones.
 * See server/policy/snapshot.ts for what is kept and left out, and why.
 */
import { Type, type Static } from '@sinclair/typebox';

const DateString = Type.String({ pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}$', description: 'YYYY-MM-DD' });
const NullableDate = Type.Union([DateString, Type.Null()]);
const NullableString = Type.Union([Type.String(), Type.Null()]);

/** A period's start, HH:MM. */
export const START_PATTERN = '^([01][0-9]|2[0-3]):[0-5][0-9]$';
/** A period's end, HH:MM on the same day, or 24:00 for the end of the day. */
export const END_PATTERN = '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$';

export const PolicyHoursSchema = Type.Object(
  {
    days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { description: 'ISO weekdays, 1 = Monday … 7 = Sunday' }),
    from: Type.String({ pattern: START_PATTERN }),
    to: Type.String({ pattern: END_PATTERN }),
  },
  { additionalProperties: false },
);

export const PolicySnapshotSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 0, description: 'The newest change-log id of a policy entity that this snapshot includes; 0 for none' }),
    generatedAt: Type.Integer({ description: 'When the server built it, epoch ms' }),
    members: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          memberNo: Type.String(),
          status: Type.Union([Type.Literal('active'), Type.Literal('suspended'), Type.Literal('left')]),
          teamId: NullableString,
          planId: NullableString,
          planValidFrom: NullableDate,
          planValidTo: NullableDate,
        },
        { additionalProperties: false },
      ),
    ),
    badges: Type.Array(
      Type.Object(
        {
          format: Type.Union([Type.Literal('uid'), Type.Literal('em4100'), Type.Literal('wiegand26')]),
          credential: Type.String(),
          memberId: Type.String(),
          status: Type.Union([Type.Literal('active'), Type.Literal('lost'), Type.Literal('blocked')]),
          /** A manager's override badge: opens doors and machines whatever the rules (logged as override). */
          override: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
    plans: Type.Array(
      Type.Object(
        {
          id: Type.String(),
          spaces: Type.Array(Type.String()),
          hours: Type.Array(PolicyHoursSchema),
          quotas: Type.Record(Type.String(), Type.Number({ minimum: 0 })),
          active: Type.Boolean(),
        },
        { additionalProperties: false },
      ),
    ),
    certifications: Type.Array(
      Type.Object(
        { memberId: Type.String(), class: Type.String(), issuedOn: DateString, expiresOn: NullableDate, revoked: Type.Boolean() },
        { additionalProperties: false },
      ),
    ),
    outOfService: Type.Array(
      Type.Object(
        { siteId: Type.String(), equipmentId: Type.String(), since: Type.Integer(), reason: Type.String() },
        { additionalProperties: false, description: 'Machines put out of service: refused to everyone but override badges until a manager puts them back' },
      ),
    ),
    teams: Type.Array(
      Type.Object(
        { id: Type.String(), status: Type.Union([Type.Literal('incubating'), Type.Literal('graduated'), Type.Literal('exited')]) },
        { additionalProperties: false },
      ),
    ),
    bookings: Type.Optional(
      Type.Array(
        Type.Object(
          {
            siteId: Type.String(),
            equipmentId: Type.String(),
            memberId: Type.Union([Type.String(), Type.Null()], { description: 'Who holds the machine then; null for a block or a visitor: nobody but override badges' }),
            from: Type.Integer({ description: 'Epoch ms' }),
            to: Type.Integer({ description: 'Epoch ms (exclusive)' }),
          },
          { additionalProperties: false },
        ),
        { description: 'Machines booked (issue #13, docs/bookings.md): during a booking the machine is refused to everyone but its holder, and a session stops at the next booking. Absent when nothing is booked.' },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PolicySnapshot = Static<typeof PolicySnapshotSchema>;

