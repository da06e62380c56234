// Test-only: make every write past ENOSPC_BUDGET_BYTES fail with ENOSPC, as a full disk would.
// Used by the disk-full test where a small tmpfs cannot be mounted.
const fs = require('node:fs')
let budget = Number(process.env.ENOSPC_BUDGET_BYTES || 0)
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), {code: 'ENOSPC', errno: -28, syscall: 'write'})
const write = fs.write
fs.write = function (fd, buffer, ...rest) {
  const callback = rest[rest.length - 1]
  const length = typeof buffer === 'string' ? Buffer.byteLength(buffer) : buffer.byteLength
  if ((budget -= length) < 0) return process.nextTick(callback, enospc())
  return write.call(this, fd, buffer, ...rest)
}
