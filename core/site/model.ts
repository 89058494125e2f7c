/**
 * The site model: what a site file describes. One TypeBox schema gives the
 * validation, the TypeScript types and the documentation of every field.
 * Cross-references (a desk's space, a device's target) are checked in
 * ./validate.ts, since JSON Schema cannot express them.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Identifiers appear in MQTT topics and InfluxDB tags: no wildcards, separators or spaces. */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description });
const Name = Type.String({ minLength: 1, maxLength: 200 });

export const SPACE_KINDS = ['open-space', 'lab', 'room'] as const;
export const DESK_KINDS = ['hot', 'fixed'] as const;
export const DEVICE_KINDS = ['badge-reader', 'door-controller', 'occupancy-sensor', 'power-meter'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];
/** Wire formats a device may speak; each has one decoder in gateway/decoders/. */
export const DEVICE_FORMATS = ['canonical'] as const;
export type DeviceFormat = (typeof DEVICE_FORMATS)[number];

const literalUnion = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description }) as unknown as ReturnType<typeof Type.String> & { static: T[number] };

export const Point2 = Type.Object({ x: Type.Number(), y: Type.Number() }, { additionalProperties: false });

export const SpaceSchema = Type.Object(
  {
    id: Id('Space id, unique in the site'),
    name: Name,
    nameZh: Type.Optional(Name),
    kind: literalUnion(SPACE_KINDS, 'open-space (co-working), lab (shared equipment, badge access) or room (meeting/event)'),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Safety capacity in people' })),
    requiresCertification: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Certification needed to enter (labs)' })),
  },
  { additionalProperties: false },
);

export const DeskSchema = Type.Object(
  {
    id: Id('Desk id, unique in the site'),
    space: Id('Space the desk stands in'),
    kind: Type.Optional(literalUnion(DESK_KINDS, 'hot (bookable by anyone) or fixed (assigned); default hot')),
    position: Type.Optional(Point2),
  },
  { additionalProperties: false },
);

export const DoorSchema = Type.Object(
  {
    id: Id('Door id, unique in the site'),
    space: Id('Space the door leads into'),
    name: Type.Optional(Name),
    antiPassback: Type.Optional(Type.Boolean({ description: 'Refuse a second entry without an exit' })),
  },
  { additionalProperties: false },
);

export const EquipmentSchema = Type.Object(
  {
    id: Id('Machine id, unique in the site'),
    space: Id('Lab the machine stands in'),
    name: Name,
    nameZh: Type.Optional(Name),
    class: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$', description: 'Machine class, e.g. laser-cutter, 3d-printer, cnc' }),
    runningThresholdW: Type.Optional(Type.Number({ minimum: 0, description: 'Power above which the machine counts as running' })),
  },
  { additionalProperties: false },
);

export const CredentialsSchema = Type.Union(
  [
    Type.Object(
      { hash: Type.String({ pattern: '^(sha256|scrypt)\\$', description: 'Salted hash of the device secret (facility device-secret)' }) },
      { additionalProperties: false },
    ),
    Type.Object(
      { secret: Type.String({ pattern: '^(env|file):.+', description: 'Reference to the secret: env:VAR or file:/path' }) },
      { additionalProperties: false },
    ),
  ],
  { description: 'How the device proves its identity over MQTT' },
);

export const DeviceSchema = Type.Object(
  {
    id: Id('Device id: its MQTT client id and user name, and the <device> level of its topics'),
    kind: literalUnion(DEVICE_KINDS, 'What the device is'),
    format: Type.Optional(literalUnion(DEVICE_FORMATS, 'Wire format it speaks; default canonical')),
    desk: Type.Optional(Id('Desk the device watches')),
    door: Type.Optional(Id('Door the device guards')),
    equipment: Type.Optional(Id('Machine the device meters or interlocks')),
    space: Type.Optional(Id('Space the device watches (room sensors)')),
    credentials: CredentialsSchema,
    measures: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 32 }), { maxItems: 16, description: 'Signal kinds it sends; default by kind' })),
  },
  { additionalProperties: false },
);

export const SiteFileSchema = Type.Object(
  {
    version: Type.Literal(1, { description: 'Site file format version' }),
    site: Type.Object(
      {
        id: Id('Site id: appears in every topic and InfluxDB point'),
        name: Name,
        nameZh: Type.Optional(Name),
        timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA time zone of the site, e.g. Asia/Shanghai' }),
      },
      { additionalProperties: false },
    ),
    spaces: Type.Array(SpaceSchema, { minItems: 1, maxItems: 10000 }),
    desks: Type.Optional(Type.Array(DeskSchema, { maxItems: 100000 })),
    doors: Type.Optional(Type.Array(DoorSchema, { maxItems: 10000 })),
    equipment: Type.Optional(Type.Array(EquipmentSchema, { maxItems: 10000 })),
    devices: Type.Optional(Type.Array(DeviceSchema, { maxItems: 100000 })),
  },
  { additionalProperties: false },
);

export type SpaceDef = Static<typeof SpaceSchema>;
export type DeskDef = Static<typeof DeskSchema>;
export type DoorDef = Static<typeof DoorSchema>;
export type EquipmentDef = Static<typeof EquipmentSchema>;
export type DeviceDef = Static<typeof DeviceSchema>;
export type SiteFile = Static<typeof SiteFileSchema>;

export type TargetType = 'desk' | 'door' | 'equipment' | 'space';
export interface TargetRef {
  readonly type: TargetType;
  readonly id: string;
}

/** A device as the gateway needs it: resolved, frozen, with its space and target. */
export interface DeviceInfo {
  readonly id: string;
  readonly kind: DeviceKind;
  readonly format: DeviceFormat;
  readonly space: string | null;
  readonly target: TargetRef | null;
  readonly measures: readonly string[];
  readonly credentials: DeviceDef['credentials'];
}

/** A validated site with lookup tables. Built only by validate.ts. */
export interface Site {
  readonly file: SiteFile;
  readonly id: string;
  readonly timezone: string;
  readonly spaces: ReadonlyMap<string, SpaceDef>;
  readonly desks: ReadonlyMap<string, DeskDef>;
  readonly doors: ReadonlyMap<string, DoorDef>;
  readonly equipment: ReadonlyMap<string, EquipmentDef>;
  readonly devices: ReadonlyMap<string, DeviceInfo>;
}
