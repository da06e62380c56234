/**
 * Progress for long transfers: a spinner with bytes and rate on stderr, only when stderr is a
 * terminal. Nothing at all otherwise, so pipes and CI logs stay clean.
 *
 * Progress must never hold up the work it reports on, whatever the terminal does. It is one
 * line, redrawn in place ("\r", the text cut to the terminal's width, erase to end of line):
 * never more than a few hundred bytes, at most ten times a second, from a timer rather than
 * from the transfer. On Linux it is written through a non-blocking descriptor of its own, so
 * a frame the terminal cannot take at once is dropped, not waited for.
 */
import {closeSync, constants, openSync, writeSync} from 'node:fs'
import type {TransferProgress} from '../registry/push.js'
import {formatBytes, terminalWidth} from './output.js'

export interface Progress {
  update(progress: TransferProgress): void
  stop(): void
}

const silent: Progress = {update() {}, stop() {}}

const PHASES: Record<TransferProgress['phase'], string> = {
  scanning: 'Scanning files',
  hashing: 'Hashing',
  uploading: 'Uploading',
  committing: 'Committing version',
  downloading: 'Downloading',
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
const TICK_MS = 100
/** No frame is longer than this, whatever the terminal claims its width is. */
const MAX_COLUMNS = 200
const ERASE_LINE = '\u001B[K'

export async function startProgress(): Promise<Progress> {
  if (!process.stderr.isTTY || process.env.MODELREG_NO_PROGRESS) return silent
  const line = openProgressLine()
  const started = Date.now()
  let phaseStarted = started
  let phase: TransferProgress['phase'] | undefined
  let latest: TransferProgress | undefined
  let frame = 0
  let stopped = false

  const draw = () => {
    if (!latest) return
    const seconds = Math.max((Date.now() - phaseStarted) / 1000, 0.001)
    const p = latest
    const detail = p.bytesTotal > 0 ? ` ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} (${formatBytes(p.bytesDone / seconds)}/s)` : ''
    const text = `${FRAMES[frame++ % FRAMES.length]} ${PHASES[p.phase]}${detail}`
    // One column spare so the cursor never wraps onto a new line.
    const width = Math.min(terminalWidth(process.stderr), MAX_COLUMNS) - 1
    line.write(`\r${[...text].slice(0, Math.max(width, 1)).join('')}${ERASE_LINE}`)
  }
  const timer = setInterval(draw, TICK_MS)
  timer.unref()

  return {
    // Only remembers: drawing happens on the timer, so a fast transfer costs nothing here.
    update(p) {
      if (stopped) return
      if (p.phase !== phase) {
        phase = p.phase
        phaseStarted = Date.now()
      }
      latest = p
    },
    stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      if (latest) line.write(`\r${ERASE_LINE}`)
      line.close()
    },
  }
}

interface ProgressLine {
  write(frame: string): void
  close(): void
}

/**
 * Where frames go. On Linux, stderr's terminal opened again (a file description of its own,
 * so making it non-blocking changes nothing for stderr or the shell): a frame the terminal
 * cannot take now fails with EAGAIN and is dropped. Elsewhere, or if that open fails,
 * process.stderr, skipping frames while earlier ones are still queued.
 */
function openProgressLine(): ProgressLine {
  if (process.platform === 'linux') {
    try {
      const fd = openSync('/proc/self/fd/2', constants.O_WRONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      let open = true
      return {
        write(frame) {
          if (!open) return
          try {
            writeSync(fd, frame)
          } catch {
            // EAGAIN (the terminal is not reading) or anything else: drop this frame.
          }
        },
        close() {
          if (!open) return
          open = false
          try {
            closeSync(fd)
          } catch {
            // nothing to do
          }
        },
      }
    } catch {
      // fall through to process.stderr
    }
  }
  return {
    write(frame) {
      if (!process.stderr.writableNeedDrain) process.stderr.write(frame)
    },
    close() {},
  }
}
