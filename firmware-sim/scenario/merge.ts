/**
 * k-way merge of time-ordered iterators with a binary heap: the scenario is a
 * merge of one lazy stream per device, so memory stays O(devices) however long
 * the simulation runs. Ties break on the source's position, which keeps the
 * merged order deterministic.
 */
interface Head<T> {
  readonly item: T;
  readonly source: number;
}

export function* mergeByTs<T extends { readonly ts: number }>(sources: readonly Iterator<T>[]): Generator<T, void, undefined> {
  const heap: Head<T>[] = [];
  const before = (a: Head<T>, b: Head<T>): boolean => a.item.ts < b.item.ts || (a.item.ts === b.item.ts && a.source < b.source);

  const push = (h: Head<T>): void => {
    heap.push(h);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  };

  const popMin = (): Head<T> => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };

  sources.forEach((it, source) => {
    const r = it.next();
    if (!r.done) push({ item: r.value, source });
  });

  while (heap.length > 0) {
    const { item, source } = popMin();
    yield item;
    const r = sources[source]!.next();
    if (!r.done) push({ item: r.value, source });
  }
}
