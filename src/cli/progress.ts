/**
 * Progress for long transfers: a spinner with bytes and rate on stderr, only when stderr is a
 * terminal. Nothing at all otherwise, so pipes and CI logs stay clean.
 */
import type {TransferProgress} from '../registry/push.js'
import {formatBytes} from './output.js'

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

export async function startProgress(): Promise<Progress> {
  if (!process.stderr.isTTY || process.env.MODELREG_NO_PROGRESS) return silent
  const {default: ora} = await import('ora')
  const spinner = ora({stream: process.stderr, discardStdin: false}).start()
  const started = Date.now()
  let phaseStarted = started
  let phase: string | undefined
  let last = 0
  return {
    update(p) {
      const now = Date.now()
      if (p.phase !== phase) {
        phase = p.phase
        phaseStarted = now
      } else if (now - last < 100) {
        return
      }
      last = now
      const seconds = Math.max((now - phaseStarted) / 1000, 0.001)
      const detail =
        p.bytesTotal > 0 ? ` ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)} (${formatBytes(p.bytesDone / seconds)}/s)` : ''
      spinner.text = `${PHASES[p.phase]}${detail}`
    },
    stop() {
      spinner.stop()
    },
  }
}
