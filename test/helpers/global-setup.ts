import {existsSync} from 'node:fs'
import {join} from 'node:path'

/** The command tests run the built CLI (bin/run.js -> dist/), as a user does after npm install. */
export default function setup(): void {
  const root = join(import.meta.dirname, '..', '..')
  if (!existsSync(join(root, 'dist', 'commands')) || !existsSync(join(root, 'oclif.manifest.json'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm install does it) before `npm test`')
  }
}
