/**
 * The Python client's own suite (clients/python/tests, stdlib unittest), run with the venv that
 * scripts/python-env.sh makes, against this repository's CLI: a real server on 127.0.0.1 and the
 * local store through the client's private server.
 */
import {spawn, spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {expect, it} from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const PYTHON = join(ROOT, '.venv-python', 'bin', 'python')

it('passes the Python client suite', async () => {
  if (!existsSync(PYTHON)) {
    const reason = `the Python venv is missing (${PYTHON}): run \`bash scripts/python-env.sh\` to make it`
    if (process.env.CI) throw new Error(`CI: ${reason}`)
    console.log(`skipping the Python client suite: ${reason}`)
    return
  }
  // Quick when nothing changed; reinstalls the client when its sources did.
  const setup = spawnSync('bash', [join(ROOT, 'scripts', 'python-env.sh')], {cwd: ROOT, encoding: 'utf8'})
  expect(setup.status, `scripts/python-env.sh failed:\n${setup.stderr}`).toBe(0)

  const env: NodeJS.ProcessEnv = {...process.env}
  for (const key of Object.keys(env)) if (key.startsWith('MODELREG_')) delete env[key]
  env.PATH = `${join(ROOT, 'bin')}:${process.env.PATH ?? ''}`
  env.MODELREG_CLI = join(ROOT, 'bin', 'run.js')
  env.PYTHONDONTWRITEBYTECODE = '1'
  env.PYTHONUNBUFFERED = '1'

  const child = spawn(PYTHON, ['-m', 'unittest', 'discover', '-s', 'clients/python/tests', '-v'], {cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe']})
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))

  // The measured numbers (indented lines) and the summary; everything when it failed.
  const lines = output.split('\n')
  const summary = lines.filter((line) => /^ {4}(local|server): /.test(line) || /^(Ran \d+ tests|OK|FAILED)/.test(line))
  console.log(code === 0 ? `Python client suite:\n${summary.join('\n')}` : output)
  expect(code, 'python -m unittest discover -s clients/python/tests failed (output above)').toBe(0)
}, 900_000)
