/**
 * In-process notifier of new access-policy versions. Route areas that change
 * reference data call `ctx.policyChanged(version)` after their transaction
 * commits; buildApp forwards that here, and the policy events stream
 * (GET /policy/events) listens. One instance per app (no module state).
 *
 * Listeners are isolated: one that throws is logged and skipped, never able to
 * stop the others or the route that published.
 */
export type PolicyVersionListener = (version: number) => void;

export class PolicyEvents {
  private readonly listeners = new Set<PolicyVersionListener>();
  private latestSeen = 0;

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  /**
   * Announces a committed version. Two requests may commit in one order and
   * publish in the other; a version not newer than one already announced is
   * dropped (the newer snapshot already includes it).
   */
  publish(version: number): void {
    if (!Number.isSafeInteger(version) || version <= this.latestSeen) return;
    this.latestSeen = version;
    for (const listener of [...this.listeners]) {
      try {
        listener(version);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: PolicyVersionListener): () => void {
    // A wrapper per subscription: the same function subscribed twice is two subscriptions.
    const wrapped: PolicyVersionListener = (v) => listener(v);
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}
