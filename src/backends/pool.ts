/** Run fn over items with at most `limit` in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const index = next++
      try {
        results[index] = await fn(items[index], index)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  const workers = Array.from({length: Math.max(1, Math.min(limit, items.length))}, () => worker())
  const settled = await Promise.allSettled(workers)
  const rejection = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')
  if (rejection) throw rejection.reason
  return results
}
