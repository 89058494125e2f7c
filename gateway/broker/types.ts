/**
 * What the gateway needs of its MQTT side, whichever it is: the embedded aedes
 * broker (./broker.ts, devices connect to the gateway) or a client of an
 * external broker with MQTT 5 shared subscriptions (./external-broker.ts,
 * devices connect to Mosquitto, EMQX, HiveMQ…). Commands, gateway status and
 * live state go out through publish(); /healthz reads health().
 */
export interface PublishOptions {
  readonly qos?: 0 | 1;
  readonly retain?: boolean;
}

export interface ExternalBrokerHealth {
  /** The broker's URL, without credentials. */
  readonly url: string;
  readonly clientId: string;
  readonly shareGroup: string;
  /** Connections this gateway keeps (each one a member of the share group), and how many are up and subscribed. */
  readonly connections: number;
  readonly connected: number;
  /** Shared subscriptions asked for on every connection (one per uplink filter of the site). */
  readonly subscriptions: number;
  /** Filters the broker refused (SUBACK reason code ≥ 0x80): their devices' messages do not reach this gateway. */
  readonly refusedSubscriptions: string[];
  /** Messages taken from the broker (acknowledged only once journaled). */
  readonly received: number;
  /** Messages without exactly one device of the site (acknowledged, counted, kept in the rejects table). */
  readonly unresolved: { readonly no_device: number; readonly refused: number; readonly ambiguous: number };
  /** Times a connection was dropped on purpose, unacknowledged, because the journal refused a message. */
  readonly journalRefusals: number;
  readonly lastError: string | null;
}

export interface BrokerHealth {
  readonly mode: 'embedded' | 'external';
  /** Embedded: accepting connections. External: every connection up and subscribed. */
  readonly listening: boolean;
  /** Embedded: the MQTT port; external: 0 (devices connect to the external broker). */
  readonly port: number;
  /** Embedded: authenticated clients; external: this gateway's connections that are up. */
  readonly clients: number;
  readonly external?: ExternalBrokerHealth;
}

export interface GatewayBroker {
  /** Resolves once taking messages (embedded: with the bound port; external: 0). */
  start(): Promise<number>;
  /** Idempotent. */
  stop(timeoutMs?: number): Promise<void>;
  /** Publishes as the gateway (the only publisher of commands, gateway status and live state). */
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  /** The retained messages whose topics match a filter, as the broker holds them. */
  retained(filter: string): Promise<{ topic: string; payload: string; qos: number }[]>;
  health(): BrokerHealth;
}
