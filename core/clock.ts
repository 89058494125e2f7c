/** Time is always handed in; core/ never reads a clock itself. */
export interface Clock {
  /** Wall-clock time, ms since the Unix epoch (UTC). */
  now(): number;
}
