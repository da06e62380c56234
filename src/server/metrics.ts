/** Prometheus metrics in the text exposition format (0.0.4): requests, latency, bytes, blobs. */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

interface Histogram {
  counts: number[]
  sum: number
  count: number
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

export class Metrics {
  private readonly requests = new Map<string, number>()
  private readonly latency = new Map<string, Histogram>()
  bytesIn = 0
  bytesOut = 0
  private readonly started = Date.now()

  /** `status` is what the client got: a status code, or timeout / aborted (see responseOutcome). */
  observe(method: string, route: string, status: number | string, seconds: number): void {
    const key = `route="${escapeLabel(route)}",method="${method}",status="${status}"`
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1)
    const hkey = `route="${escapeLabel(route)}",method="${method}"`
    let h = this.latency.get(hkey)
    if (!h) {
      h = {counts: BUCKETS.map(() => 0), sum: 0, count: 0}
      this.latency.set(hkey, h)
    }
    BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) h.counts[i]++
    })
    h.sum += seconds
    h.count++
  }

  render(blobs: {count: number; bytes: number}): string {
    const lines: string[] = []
    const family = (name: string, type: string, help: string) => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    family('modelreg_http_requests_total', 'counter', 'HTTP requests by route template, method and status.')
    for (const [labels, n] of this.requests) lines.push(`modelreg_http_requests_total{${labels}} ${n}`)
    family('modelreg_http_request_duration_seconds', 'histogram', 'Time from request to response end.')
    for (const [labels, h] of this.latency) {
      BUCKETS.forEach((bound, i) => lines.push(`modelreg_http_request_duration_seconds_bucket{${labels},le="${bound}"} ${h.counts[i]}`))
      lines.push(`modelreg_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`)
      lines.push(`modelreg_http_request_duration_seconds_sum{${labels}} ${h.sum}`)
      lines.push(`modelreg_http_request_duration_seconds_count{${labels}} ${h.count}`)
    }
    family('modelreg_http_received_bytes_total', 'counter', 'Request body bytes received.')
    lines.push(`modelreg_http_received_bytes_total ${this.bytesIn}`)
    family('modelreg_http_sent_bytes_total', 'counter', 'Response body bytes sent.')
    lines.push(`modelreg_http_sent_bytes_total ${this.bytesOut}`)
    family('modelreg_blobs', 'gauge', 'Blobs in the store.')
    lines.push(`modelreg_blobs ${blobs.count}`)
    family('modelreg_blob_bytes', 'gauge', 'Bytes of blobs in the store.')
    lines.push(`modelreg_blob_bytes ${blobs.bytes}`)
    family('modelreg_uptime_seconds', 'gauge', 'Seconds since the server started.')
    lines.push(`modelreg_uptime_seconds ${(Date.now() - this.started) / 1000}`)
    return `${lines.join('\n')}\n`
  }
}
