/**
 * "Did you mean": the nearest names by edit distance (insertions, deletions, substitutions and
 * swaps of two neighbours, each costing one), as git and kubectl suggest.
 */

/** Optimal string alignment distance between `a` and `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1
  const cols = b.length + 1
  const d: number[][] = Array.from({length: rows}, (_, i) => Array.from({length: cols}, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[a.length][b.length]
}

/**
 * The candidates nearest to `typed`, closest first: within a third of its length (at least 1,
 * at most 3 edits), or those it is a prefix of when nothing is that close.
 */
export function nearest(typed: string, candidates: Iterable<string>, limit = 3): string[] {
  const word = typed.toLowerCase()
  const allowed = Math.min(3, Math.max(1, Math.floor(word.length / 3)))
  const scored: {name: string; distance: number}[] = []
  for (const name of new Set(candidates)) {
    const distance = editDistance(word, name.toLowerCase())
    if (distance <= allowed) scored.push({name, distance})
  }
  if (scored.length === 0) {
    for (const name of new Set(candidates)) if (word.length >= 2 && name.toLowerCase().startsWith(word)) scored.push({name, distance: name.length - word.length})
  }
  // The closest only: a swap of two letters beats every two-edit neighbour.
  const best = Math.min(...scored.map((s) => s.distance))
  return scored
    .filter((s) => s.distance === best)
    .sort((x, y) => x.name.localeCompare(y.name))
    .slice(0, limit)
    .map((s) => s.name)
}
