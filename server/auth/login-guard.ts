/**
 * Brute-force protection for logins, per account (the per-address limit is the
 * rate-limit plugin's): each account may fail `burst` times, then one more
 * attempt per `refillMs`. Successful logins do not spend attempts.
 */
import { TokenBucket } from '../../core/rate.js';

export class LoginGuard {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly burst: number,
    private readonly refillMs: number,
  ) {}

  /** Whether an attempt for this account may be checked at all now. */
  allowed(username: string, now: number): boolean {
    const b = this.buckets.get(username.toLowerCase());
    return !b || b.has(now);
  }

  failed(username: string, now: number): void {
    const key = username.toLowerCase();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size > 100_000) this.buckets.clear();
      b = new TokenBucket(1000 / this.refillMs, this.burst, now);
      this.buckets.set(key, b);
    }
    b.take(now);
  }

  succeeded(username: string): void {
    this.buckets.delete(username.toLowerCase());
  }
}
