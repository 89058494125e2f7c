/**
 * Commands from the gateway to canonical devices (docs/protocol.md,
 * "Commands"): one JSON schema per command, on
 * `fac/v1/<site>/d/<device>/cmd/<command>`; only `config` is retained. What
 * only makes sense now (unlock, power on, feedback, session) is sent QoS 0,
 * the rest QoS 1 (gateway/encoders/types.ts, commandQos).
 *
 * Uplinks refuse unknown fields (the gateway must not lose a misspelt one);
 * commands are the other way round: a device ignores fields it does not know,
 * so the gateway can add an optional field (as `heartbeatS` was added to
 * `config`) without a new protocol level.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MAX_CANONICAL_PAYLOAD_BYTES } from './canonical.js';

/** How often a canonical controller (door controller, badge reader) sends a heartbeat, s. */
export const CONTROLLER_HEARTBEAT_S = 60;
/** Missed heartbeats after which the gateway marks a controller offline (its default `silentAfterS`). */
export const CONTROLLER_MISSED_BEATS = 3;
/** A controller's default offline-after time, ms: `CONTROLLER_MISSED_BEATS` × the heartbeat. */
export const CONTROLLER_SILENT_AFTER_MS = CONTROLLER_MISSED_BEATS * CONTROLLER_HEARTBEAT_S * 1000;

/**
 * The heartbeat a controller is told to keep (the `heartbeatS` of its config):
 * the standard minute, or faster when its site file marks it offline sooner,
 * so that `CONTROLLER_MISSED_BEATS` beats still fit in its silence window and
 * a healthy, idle controller is never taken for a dead one. Whole seconds, at
 * least 1.
 */
export function controllerHeartbeatS(silentAfterMs: number | null): number {
  if (silentAfterMs === null) return CONTROLLER_HEARTBEAT_S;
  const fits = Math.floor(silentAfterMs / 1000 / CONTROLLER_MISSED_BEATS);
  return Math.max(1, Math.min(CONTROLLER_HEARTBEAT_S, fits));
}

export const COMMANDS = ['unlock', 'power', 'feedback', 'session', 'config'] as const;
export type CommandName = (typeof COMMANDS)[number];
const COMMAND_SET: ReadonlySet<string> = new Set(COMMANDS);

/** The only retained command: a controller reads it on connecting. */
export const RETAINED_COMMANDS: ReadonlySet<CommandName> = new Set<CommandName>(['config']);

const NullableString = (description: string) => Type.Union([Type.String({ maxLength: 128 }), Type.Null()], { description });

export const UnlockCommand = Type.Object({
  durationMs: Type.Integer({ minimum: 0, maximum: 3_600_000, description: 'Keep the door unlocked this long, ms, from receipt' }),
});

export const PowerCommand = Type.Object({
  on: Type.Boolean({ description: 'Relay on (machine powered) or off' }),
});

export const FeedbackCommand = Type.Object({
  grant: Type.Boolean(),
  reason: Type.String({ minLength: 1, maxLength: 64, description: 'Reason code (core/access/reasons.ts)' }),
  led: Type.String({ minLength: 1, maxLength: 16, description: 'green, amber or red' }),
  beeps: Type.Integer({ minimum: 0, maximum: 10 }),
  text: Type.Object({ en: Type.String({ maxLength: 128 }), zh: Type.String({ maxLength: 128 }) }),
});

export const SESSION_STATES = ['granted', 'denied', 'warning', 'ended'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const SessionCommand = Type.Object({
  state: Type.Union(SESSION_STATES.map((s) => Type.Literal(s))),
  sessionId: NullableString('Machine session id; null when denied'),
  memberId: NullableString('Member the session belongs to; null when unknown'),
  maxRunMs: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Longest run of a granted session, ms; null: no limit' }),
  reason: Type.String({ minLength: 1, maxLength: 64, description: 'Reason code, or why a session ends or is warned' }),
  text: Type.Optional(
    Type.Object({ en: Type.String({ maxLength: 128 }), zh: Type.String({ maxLength: 128 }) }, { description: 'What the reader shows (always sent by this gateway; optional so that older gateways still talk to newer devices)' }),
  ),
});

export const ConfigCommand = Type.Object({
  version: Type.String({ minLength: 1, maxLength: 64, description: 'Digest of the rest of the content: apply only when it changes' }),
  site: Type.String({ minLength: 1 }),
  device: Type.String({ minLength: 1 }),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.String() }), Type.Null()]),
  direction: Type.Union([Type.Literal('in'), Type.Literal('out')]),
  unlockMs: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
  timezone: Type.String({ minLength: 1 }),
  heartbeatS: Type.Optional(Type.Integer({ minimum: 1, maximum: 86_400, description: 'Send a health message this often while connected' })),
});

export type UnlockCommand = Static<typeof UnlockCommand>;
export type PowerCommand = Static<typeof PowerCommand>;
export type FeedbackCommand = Static<typeof FeedbackCommand>;
export type SessionCommand = Static<typeof SessionCommand>;
export type ConfigCommand = Static<typeof ConfigCommand>;

export interface PayloadByCommand {
  unlock: UnlockCommand;
  power: PowerCommand;
  feedback: FeedbackCommand;
  session: SessionCommand;
  config: ConfigCommand;
}

export const COMMAND_SCHEMAS: Readonly<Record<CommandName, TSchema>> = Object.freeze({
  unlock: UnlockCommand,
  power: PowerCommand,
  feedback: FeedbackCommand,
  session: SessionCommand,
  config: ConfigCommand,
});

const CHECKS = Object.fromEntries(COMMANDS.map((c) => [c, TypeCompiler.Compile(COMMAND_SCHEMAS[c])])) as Record<CommandName, TypeCheck<TSchema>>;

/** A command a device understood, as a discriminated union on its name. */
export type ParsedCommand = { [K in CommandName]: { readonly name: K; readonly payload: PayloadByCommand[K] } }[CommandName];

export type CommandParseResult =
  | { readonly ok: true; readonly command: ParsedCommand }
  | { readonly ok: false; readonly reason: 'unknown_command' | 'payload_too_large' | 'malformed_json' | 'schema'; readonly detail: string };

/**
 * Reads one command as a device would: `name` is the last level of its topic,
 * `payload` its body. Never throws: anything it cannot use comes back with a
 * reason, for the device to log and ignore.
 */
export function parseCommand(name: string, payload: Buffer | string): CommandParseResult {
  if (!COMMAND_SET.has(name)) return { ok: false, reason: 'unknown_command', detail: `no command "${name}"` };
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > MAX_CANONICAL_PAYLOAD_BYTES) return { ok: false, reason: 'payload_too_large', detail: `${size} bytes; commands are at most ${MAX_CANONICAL_PAYLOAD_BYTES}` };
  let body: unknown;
  try {
    body = JSON.parse(typeof payload === 'string' ? payload : payload.toString('utf8'));
  } catch (e) {
    return { ok: false, reason: 'malformed_json', detail: (e as Error).message };
  }
  const command = name as CommandName;
  const check = CHECKS[command];
  if (!check.Check(body)) {
    const first = check.Errors(body).First();
    return { ok: false, reason: 'schema', detail: first ? `${first.path || '/'}: ${first.message}` : 'does not match the schema' };
  }
  return { ok: true, command: { name: command, payload: body } as ParsedCommand };
}
