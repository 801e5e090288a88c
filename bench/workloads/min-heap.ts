/** A binary min-heap; `before(a, b)` is true when a comes out first. */
export interface MinHeap<T> {
  readonly size: number;
  push(item: T): void;
  peek(): T | undefined;
  pop(): T | undefined;
}

export function createMinHeap<T>(before: (a: T, b: T) => boolean): MinHeap<T> {
  const items: T[] = [];
  return {
    get size() {
      return items.length;
    },
    push(item) {
      items.push(item);
      let i = items.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!before(items[i]!, items[parent]!)) break;
        [items[i], items[parent]] = [items[parent]!, items[i]!];
        i = parent;
      }
    },
    peek: () => items[0],
    pop() {
      const top = items[0];
      const last = items.pop();
      if (items.length > 0 && last !== undefined) {
        items[0] = last;
        let i = 0;
        for (;;) {
          const left = 2 * i + 1;
          const right = left + 1;
          let first = i;
          if (left < items.length && before(items[left]!, items[first]!)) first = left;
          if (right < items.length && before(items[right]!, items[first]!)) first = right;
          if (first === i) break;
          [items[i], items[first]] = [items[first]!, items[i]!];
          i = first;
        }
      }
      return top;
    },
  };
}
