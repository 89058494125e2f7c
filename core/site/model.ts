/**
 * The site model: what a site file describes. One TypeBox schema gives the
 * validation, the TypeScript types and the documentation of every field.
 * Cross-references (a desk's space, a device's target) are checked in
 * ./validate.ts, since JSON Schema cannot express them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { END_PATTERN, PolicyHoursSchema, START_PATTERN } from '../policy/snapshot.js';

/** Identifiers appear in MQTT topics and InfluxDB tags: no wildcards, separators or spaces. */
export const ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$';
const Id = (description: string) => Type.String({ pattern: ID_PATTERN, description });
const Name = Type.String({ minLength: 1, maxLength: 200 });

export const SPACE_KINDS = ['open-space', 'lab', 'room'] as const;
export const DESK_KINDS = ['hot', 'fixed'] as const;
export const DEVICE_KINDS = ['badge-reader', 'door-controller', 'occupancy-sensor', 'power-meter', 'zigbee-bridge'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];
/** Wire formats a device may speak; each has one decoder in gateway/decoders/ (and, where it takes commands, one encoder). */
export const DEVICE_FORMATS = ['canonical', 'tasmota', 'shelly-gen2', 'zigbee2mqtt', 'rdm6300', 'wiegand26'] as const;
export type DeviceFormat = (typeof DEVICE_FORMATS)[number];
/** Formats spoken over MQTT (the device, or its bridge, is an MQTT client of the gateway). */
export const MQTT_FORMATS: readonly DeviceFormat[] = ['canonical', 'tasmota', 'shelly-gen2', 'zigbee2mqtt'];
/** Formats read from a serial port on the gateway machine. */
export const SERIAL_FORMATS: readonly DeviceFormat[] = ['rdm6300', 'wiegand26'];
/** Which formats each device kind may speak. */
export const FORMATS_BY_KIND: Readonly<Record<DeviceKind, readonly DeviceFormat[]>> = Object.freeze({
  'badge-reader': ['canonical', 'rdm6300', 'wiegand26'],
  'door-controller': ['canonical'],
  'occupancy-sensor': ['canonical', 'zigbee2mqtt'],
  'power-meter': ['canonical', 'tasmota', 'shelly-gen2'],
  'zigbee-bridge': ['zigbee2mqtt'],
});

const literalUnion = <T extends readonly string[]>(values: T, description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description }) as unknown as ReturnType<typeof Type.String> & { static: T[number] };

/** A local calendar date. Whether it exists (no 2025-02-30) is checked in ./validate.ts. */
export const DATE_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$';
const LocalDate = (description: string) => Type.String({ pattern: DATE_PATTERN, description });

/** A date the whole site is closed: 'YYYY-MM-DD', or with a name for reports. */
export const ClosedDateSchema = Type.Union(
  [
    LocalDate('Local date the site is closed, YYYY-MM-DD'),
    Type.Object(
      { date: LocalDate('Local date the site is closed, YYYY-MM-DD'), name: Type.Optional(Name) },
      { additionalProperties: false },
    ),
  ],
  { description: 'A public holiday or closure: YYYY-MM-DD or { date, name }' },
);

/** A date the site is open with these hours whatever its weekly hours say (调休, a make-up working day). */
export const ExtraOpenDateSchema = Type.Object(
  {
    date: LocalDate('Local date the site is open, YYYY-MM-DD'),
    from: Type.String({ pattern: START_PATTERN, description: 'Opening time, HH:MM' }),
    to: Type.String({ pattern: END_PATTERN, description: 'Closing time, HH:MM or 24:00' }),
    name: Type.Optional(Name),
  },
  { additionalProperties: false },
);

export const Point2 = Type.Object({ x: Type.Number(), y: Type.Number() }, { additionalProperties: false });

export const SpaceSchema = Type.Object(
  {
    id: Id('Space id, unique in the site'),
    name: Name,
    nameZh: Type.Optional(Name),
    kind: literalUnion(SPACE_KINDS, 'open-space (co-working), lab (shared equipment, badge access) or room (meeting/event)'),
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 100000, description: 'Safety capacity in people' })),
    requiresCertification: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Certification needed to enter (labs)' })),
    openingHours: Type.Optional(Type.Array(PolicyHoursSchema, { maxItems: 50, description: 'When the space is open, if not the site’s hours' })),
    presenceTimeoutS: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 86_400, description: 'Someone badged in without badging out counts as gone after this long (default 8 h)' })),
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
    certification: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Certification needed to use it; default its class' })),
    idleOffS: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400, description: 'A session ends (power off) after the machine has been idle this long; default 600 s' })),
    maxSessionS: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 86_400, description: 'Longest session one swipe grants; default: until closing time' })),
  },
  { additionalProperties: false },
);

/** An instant as RFC 3339 with an offset (Z or ±HH:MM), so it means the same in any time zone. */
const INSTANT_PATTERN = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$';

const SlotRuleFields = {
  minMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 1440, description: 'Shortest booking, minutes (default 30)' })),
  maxMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 14 * 1440, description: 'Longest booking, minutes (default 240)' })),
  stepMinutes: Type.Optional(Type.Union([5, 10, 15, 20, 30, 60].map((n) => Type.Literal(n)), { description: 'Bookings start and end on multiples of this past the local hour (default 15)' })),
  aheadDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 366, description: 'How far ahead a member may book, days (default 14)' })),
  bufferMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 1440, description: 'Kept free between bookings, minutes (default 0)' })),
  maxHoursPerWeek: Type.Optional(Type.Number({ minimum: 0, maximum: 168, description: 'Most hours one member may hold of this class in a local week (default: no limit)' })),
};

/** Booking rules of the site (docs/bookings.md); every field optional, defaults in core/booking/rules.ts. */
export const BookingsSchema = Type.Object(
  {
    defaults: Type.Optional(Type.Object(SlotRuleFields, { additionalProperties: false, description: 'Slot rules for every bookable resource' })),
    byClass: Type.Optional(
      Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,63}$' }), Type.Object(SlotRuleFields, { additionalProperties: false }), {
        description: 'Per rule class (a machine class, desk or room): what differs from the defaults',
      }),
    ),
    closures: Type.Optional(
      Type.Array(
        Type.Object(
          {
            from: Type.String({ pattern: INSTANT_PATTERN, description: 'Start, RFC 3339 with an offset, e.g. 2026-12-24T00:00:00+08:00' }),
            to: Type.String({ pattern: INSTANT_PATTERN, description: 'End (exclusive), RFC 3339 with an offset' }),
            resources: Type.Optional(Type.Array(Type.String({ pattern: '^(equipment|desk|room):[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }), { maxItems: 1000, description: "'type:id' of the resources closed; default every one" })),
            reason: Name,
          },
          { additionalProperties: false },
        ),
        { maxItems: 1000, description: 'Periods nothing (or the resources listed) can be booked: closures, maintenance' },
      ),
    ),
    graceMinutes: Type.Optional(Type.Integer({ minimum: 0, maximum: 240, description: 'Use seen within this many minutes of a booking’s start checks it in (default 15)' })),
    autoRelease: Type.Optional(Type.Boolean({ description: 'Release a no-show at the end of the grace period (default true)' })),
  },
  { additionalProperties: false },
);

/** A topic level or prefix chosen by a manager: no wildcards, no leading $, no empty levels. */
const TOPIC_PATTERN = '^(?!\\$)(?!.*//)(?!/)(?!.*/$)[^+#\\u0000]{1,128}$';

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
    Type.Object(
      { login: Id('A shared login (logins:) for devices that cannot each have their own, e.g. a Tasmota fleet') },
      { additionalProperties: false },
    ),
  ],
  { description: 'How the device proves its identity over MQTT' },
);

export const LoginSchema = Type.Object(
  {
    id: Id('Login id, referenced by devices as credentials: { login: <id> }'),
    username: Type.String({ minLength: 1, maxLength: 128, description: 'MQTT user name the devices send' }),
    credentials: Type.Union(
      [
        Type.Object({ hash: Type.String({ pattern: '^(sha256|scrypt)\\$' }) }, { additionalProperties: false }),
        Type.Object({ secret: Type.String({ pattern: '^(env|file):.+' }) }, { additionalProperties: false }),
      ],
      { description: 'The shared password: salted hash or secret reference' },
    ),
  },
  { additionalProperties: false },
);

/** What an observer may read: the live state topics, and the gateway's status (whether that state is current). */
export const OBSERVER_TOPICS = ['state', 'gateway-status'] as const;
export type ObserverTopic = (typeof OBSERVER_TOPICS)[number];

export const ObserverSchema = Type.Object(
  {
    id: Id('Observer id: its MQTT user name, and its client id or the prefix of them (<id> or <id>-…); must not be a device id'),
    credentials: Type.Union(
      [
        Type.Object({ hash: Type.String({ pattern: '^(sha256|scrypt)\\$' }) }, { additionalProperties: false }),
        Type.Object({ secret: Type.String({ pattern: '^(env|file):.+' }) }, { additionalProperties: false }),
      ],
      { description: 'The observer’s password: salted hash or secret reference, as for a device' },
    ),
    topics: Type.Optional(
      Type.Array(literalUnion(OBSERVER_TOPICS, 'state (fac/v1/<site>/state/#) or gateway-status (fac/v1/<site>/gateway/status)'), {
        minItems: 1,
        maxItems: OBSERVER_TOPICS.length,
        description: 'What it may subscribe to; default state and gateway-status',
      }),
    ),
  },
  { additionalProperties: false },
);

export const MqttIdentitySchema = Type.Object(
  {
    clientId: Type.Optional(Type.String({ minLength: 1, maxLength: 128, pattern: '^[^+#/\\s\\u0000]+$', description: 'MQTT client id the device uses; default its device id (Tasmota: MqttClient, Shelly: client id)' })),
    username: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'MQTT user name; default its device id (or the login’s)' })),
    topic: Type.Optional(Type.String({ pattern: TOPIC_PATTERN, description: 'Tasmota: its %topic%; Shelly: its topic prefix; Zigbee2MQTT bridge: its base topic (default zigbee2mqtt)' })),
    friendlyName: Type.Optional(Type.String({ pattern: TOPIC_PATTERN, description: 'Zigbee2MQTT sensor: its friendly_name on the bridge; default its device id' })),
  },
  { additionalProperties: false },
);

export const SerialSchema = Type.Object(
  {
    path: Type.String({ minLength: 1, maxLength: 512, description: 'Serial port, e.g. /dev/ttyUSB0; a relative path is relative to the site file' }),
    baudRate: Type.Optional(Type.Integer({ minimum: 300, maximum: 4_000_000, description: 'Default 9600' })),
  },
  { additionalProperties: false },
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
    credentials: Type.Optional(CredentialsSchema),
    mqtt: Type.Optional(MqttIdentitySchema),
    bridge: Type.Optional(Id('Zigbee2MQTT sensor: the zigbee-bridge device it reports through')),
    serial: Type.Optional(SerialSchema),
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Device model, e.g. aqara-rtcgq11lm; sets model defaults such as the occupancy timeout' })),
    occupancyTimeoutS: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 86_400, description: 'Occupancy sensors: occupied turns free this long after the last "occupied", for sensors that never report free' })),
    silentAfterS: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 7 * 86_400, description: 'After this long without a message the device counts as offline (its state unknown)' })),
    direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')], { description: 'A reader at a door: which way it lets people through (default in)' })),
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
        openingHours: Type.Optional(Type.Array(PolicyHoursSchema, { maxItems: 50, description: 'When the site is open (default: always); spaces may narrow it' })),
        closingWarningS: Type.Optional(Type.Number({ minimum: 0, maximum: 7200, description: 'Warn running machines this long before closing time (default 600 s)' })),
        policyMaxAgeS: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'Past this age of the access policy the gateway turns strict: only override badges open (default 24 h)' })),
        certificationLapseDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'A machine certification unused this long lapses (default: never)' })),
        closedDates: Type.Optional(Type.Array(ClosedDateSchema, { maxItems: 2000, description: 'Dates the whole site is closed (public holidays, closures); utilisation counts no open time on them' })),
        extraOpenDates: Type.Optional(Type.Array(ExtraOpenDateSchema, { maxItems: 2000, description: 'Dates the site is open with the given hours whatever its weekly hours say (make-up working days, 调休)' })),
      },
      { additionalProperties: false },
    ),
    spaces: Type.Array(SpaceSchema, { minItems: 1, maxItems: 10000 }),
    desks: Type.Optional(Type.Array(DeskSchema, { maxItems: 100000 })),
    doors: Type.Optional(Type.Array(DoorSchema, { maxItems: 10000 })),
    equipment: Type.Optional(Type.Array(EquipmentSchema, { maxItems: 10000 })),
    devices: Type.Optional(Type.Array(DeviceSchema, { maxItems: 100000 })),
    logins: Type.Optional(Type.Array(LoginSchema, { maxItems: 1000 })),
    observers: Type.Optional(Type.Array(ObserverSchema, { maxItems: 100, description: 'Read-only MQTT logins for dashboards: they may read the live state and nothing else' })),
    bookings: Type.Optional(BookingsSchema),
  },
  { additionalProperties: false },
);

export type SpaceDef = Static<typeof SpaceSchema>;
export type DeskDef = Static<typeof DeskSchema>;
export type DoorDef = Static<typeof DoorSchema>;
export type EquipmentDef = Static<typeof EquipmentSchema>;
export type DeviceDef = Static<typeof DeviceSchema>;
export type LoginDef = Static<typeof LoginSchema>;
export type ObserverDef = Static<typeof ObserverSchema>;
export type SiteFile = Static<typeof SiteFileSchema>;
export type ClosedDateDef = Static<typeof ClosedDateSchema>;
export type ExtraOpenDateDef = Static<typeof ExtraOpenDateSchema>;

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
  /** Null for devices without an MQTT connection of their own (serial, bridged). */
  readonly credentials: NonNullable<DeviceDef['credentials']> | null;
  /** MQTT identity and topics, defaults filled in; null when the device has no connection of its own. */
  readonly mqtt: { readonly clientId: string; readonly username: string; readonly topic: string } | null;
  /** Zigbee2MQTT sensor: its bridge device id and friendly name. */
  readonly bridge: { readonly device: string; readonly friendlyName: string } | null;
  readonly serial: { readonly path: string; readonly baudRate: number } | null;
  readonly model: string | null;
  readonly occupancyTimeoutMs: number | null;
  readonly silentAfterMs: number | null;
  /** Readers at doors: which way they let people through. */
  readonly direction: 'in' | 'out';
}

/** An observer as the broker needs it: its credentials and what it may read, defaults filled in. */
export interface ObserverInfo {
  readonly id: string;
  readonly credentials: ObserverDef['credentials'];
  readonly topics: readonly ObserverTopic[];
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
  readonly logins: ReadonlyMap<string, LoginDef>;
  /** Read-only MQTT logins (dashboards), by id; their ids are never device ids. */
  readonly observers: ReadonlyMap<string, ObserverInfo>;
  /** MQTT client id → device id, for the devices (and bridges) that connect themselves. */
  readonly byClientId: ReadonlyMap<string, string>;
  /** Bridge device id → friendly name → sensor device id. */
  readonly bridged: ReadonlyMap<string, ReadonlyMap<string, string>>;
}
