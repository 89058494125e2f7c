/**
 * MQTT topic filters as data: whether a topic matches a filter, whether one
 * filter covers another, and the MQTT 5 shared-subscription form. Used to
 * subscribe an external broker to exactly the site's uplinks and to resolve a
 * received topic to its device (gateway/broker/topic-resolver.ts).
 */

/** `$share/<group>/<filter>` (MQTT 5.0 §4.8.2); a group name may not contain `/`, `+` or `#`. */
export function sharedFilter(group: string, filter: string): string {
  if (!isShareGroup(group)) throw new RangeError(`share group "${group}" must be non-empty without "/", "+" or "#"`);
  return `$share/${group}/${filter}`;
}

export function isShareGroup(group: string): boolean {
  return group.length > 0 && !/[/+#\s]/.test(group);
}

/**
 * Whether a concrete topic matches a filter (MQTT 5.0 §4.7): `+` one level,
 * `#` the rest (including the parent level itself), and a filter starting
 * with a wildcard never matches a `$` topic (§4.7.2).
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    const level = f[i]!;
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/** Whether every topic `inner` matches also matches `outer` (so subscribing to both would deliver twice). */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  for (let i = 0; i < o.length; i++) {
    const level = o[i]!;
    if (level === '#') return true;
    if (i >= n.length) return false;
    const other = n[i]!;
    if (other === '#') return false;
    if (level === '+') continue;
    if (level !== other) return false;
  }
  // `a/#` also matches `a`: an outer `a` does not cover an inner `a/#`, handled above by other === '#'.
  return o.length === n.length;
}

/**
 * The filters to subscribe to: duplicates dropped, and any filter covered by
 * another left out. A broker delivers one copy per matching subscription —
 * shared subscriptions included (Mosquitto 2.0 does, checked here) — so
 * overlapping filters would hand the same message to the gateway twice.
 * Sorted, so the result does not depend on the site file's order.
 */
export function minimalFilters(filters: Iterable<string>): string[] {
  const unique = [...new Set(filters)].sort();
  return unique.filter((f) => !unique.some((g) => g !== f && filterCovers(g, f)));
}
