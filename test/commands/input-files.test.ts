/**
 * Files the CLI reads whole (--metadata-file, --params-file, the user config, .modelreg.yaml,
 * sync files, the server config and its TLS files): plain YAML only, and a size limit checked
 * before the file is read. Every refusal is one line naming the file, exit 2, nothing changed.
 */
import {spawn} from 'node:child_process'
import {closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {truncate} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {BIN, type CliEnv, makeCliEnv, runCli, runCliMeasured} from '../helpers/cli.js'
import {storeSnapshot} from '../helpers/store.js'
import {tempDir} from '../helpers/tmp.js'

const ONE_LINE = /^Error: [^\n]+\n$/
const PLAIN_ONLY = /unknown YAML tag !evil \(modelreg reads plain YAML only\)\n$/

/** A sparse file of `size` bytes (all zeros): as large as it says, without writing the bytes. */
async function sparseFile(path: string, size = 100 * 1024 * 1024): Promise<string> {
  closeSync(openSync(path, 'w'))
  await truncate(path, size)
  return path
}

/** A store with one version in it, and its snapshot: refused commands must leave it as it is. */
async function storeWithOneVersion(ctx: CliEnv) {
  writeFileSync(join(ctx.cwd, 'w.bin'), 'weights')
  expect((await runCli(ctx, ['models', 'push', 'm', 'w.bin'])).code).toBe(0)
  return storeSnapshot(ctx.home)
}

/** `modelreg server start` that must refuse to start: killed after `ms` if it does not exit by itself. */
function serverStart(ctx: CliEnv, args: string[], ms = 20_000): Promise<{code: number | null; stdout: string; stderr: string; killed: boolean}> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'server', 'start', '--port', '0', ...args], {cwd: ctx.cwd, env: ctx.env, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    let killed = false
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, ms)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({code, stdout, stderr, killed})
    })
  })
}

describe('YAML files are read strictly', () => {
  it('--metadata-file and --params-file: a tag is refused in one line with file:line, nothing stored', async () => {
    const ctx = makeCliEnv()
    const before = await storeWithOneVersion(ctx)
    writeFileSync(join(ctx.cwd, 'meta.yaml'), 'owner: me\ncmd: !!python/object/apply:os.system ["echo pwned"]\n')
    let r = await runCli(ctx, ['models', 'push', 'm', 'w.bin', '--metadata-file', 'meta.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toBe('Error: --metadata-file meta.yaml:2: unknown YAML tag !!python/object/apply:os.system (modelreg reads plain YAML only)\n')
    writeFileSync(join(ctx.cwd, 'meta.yaml'), 'owner: me\nteam: !evil risk\n')
    r = await runCli(ctx, ['models', 'push', 'm', 'w.bin', '--metadata-file', 'meta.yaml', '--json'])
    expect(r.code).toBe(2)
    expect(r.stdout).toMatch(/"code": ?"invalid_argument"/)
    writeFileSync(join(ctx.cwd, 'params.yaml'), 'lr: 0.1\n\nlayers: !evil 3\n')
    r = await runCli(ctx, ['runs', 'start', '-e', 'exp', '--params-file', 'params.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(/^Error: --params-file params\.yaml:3: unknown YAML tag !evil/)
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('.modelreg.yaml with `project: !evil p` does not redirect the project: exit 2, one line, nothing pushed', async () => {
    const ctx = makeCliEnv()
    const before = await storeWithOneVersion(ctx)
    writeFileSync(join(ctx.cwd, '.modelreg.yaml'), '# settings\nprofile:\nproject: !evil p\n')
    const r = await runCli(ctx, ['models', 'push', 'm', 'w.bin'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(/^Error: config file \S*\/work\/\.modelreg\.yaml:3: /)
    expect(r.stderr).toMatch(PLAIN_ONLY)
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('the user config: a tag is refused, and `config set` does not rewrite the file', async () => {
    const ctx = makeCliEnv()
    const dir = join(ctx.env.XDG_CONFIG_HOME as string, 'modelreg')
    mkdirSync(dir, {recursive: true})
    const text = 'backend: local\nproject: !evil p\n'
    writeFileSync(join(dir, 'config.yaml'), text)
    let r = await runCli(ctx, ['models'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(/^Error: config file \S*\/modelreg\/config\.yaml:2: /)
    expect(r.stderr).toMatch(PLAIN_ONLY)
    r = await runCli(ctx, ['config', 'set', 'author', 'me@example.com'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(PLAIN_ONLY)
    expect(readFileSync(join(dir, 'config.yaml'), 'utf8')).toBe(text)
  })

  it('a sync file: a tag is refused, nothing synced', async () => {
    const ctx = makeCliEnv()
    const before = await storeWithOneVersion(ctx)
    writeFileSync(join(ctx.cwd, 'sync.yaml'), 'project: default\nexperiments:\n  - name: e\n    runs:\n      - name: r\n        params: !evil {lr: 1}\n')
    const r = await runCli(ctx, ['sync', 'sync.yaml'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(/^Error: sync file sync\.yaml:6: /)
    expect(r.stderr).toMatch(PLAIN_ONLY)
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('the server config: a tag in allowed_hosts stops the server from starting', async () => {
    const ctx = makeCliEnv()
    const dataDir = join(tempDir('strict-server-'), 'data')
    writeFileSync(join(ctx.cwd, 'server.yaml'), `data_dir: ${dataDir}\nauth:\n  enabled: false\nallowed_hosts:\n  - !evil example.com\n`)
    const r = await serverStart(ctx, ['--config', 'server.yaml'])
    expect(r.killed).toBe(false)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toMatch(/^Error: server config server\.yaml:5: /)
    expect(r.stderr).toMatch(PLAIN_ONLY)
    expect(existsSync(dataDir)).toBe(false)
  })

  it('duplicate keys, a second document, any tag, YAML 1.1 and alias bombs are refused in one line', async () => {
    const ctx = makeCliEnv()
    const cases: [string, string, RegExp][] = [
      ['duplicate key', 'project: a\nproject: b\n', /:2: duplicate key "project"/],
      ['two documents', 'project: a\n---\nproject: b\n', /:2: more than one YAML document/],
      ['a known tag', 'project: !!str a\n', /:1: YAML tag !!str is not allowed \(modelreg reads plain YAML only\)/],
      ['a non-specific tag', 'project: ! a\n', /:1: unknown YAML tag ! \(/],
      ['a tagged mapping', 'profiles:\n  team: !evil\n    project: p\n', /:2: unknown YAML tag !evil/],
      ['a tag on a key', '!evil project: p\n', /:1: unknown YAML tag !evil/],
      ['a %TAG handle', '%TAG !e! tag:example.com,2000:\n---\nproject: !e!x p\n', /:3: unknown YAML tag !e!x/],
      ['YAML 1.1', '%YAML 1.1\n---\nproject: p\n', /:1: YAML 1\.1 is not read/],
      ['a syntax error', 'project: [p\n', /:\d+: not valid YAML: /],
      ['an alias to no anchor', 'project: *nope\n', /:1: alias \*nope names no anchor defined before it/],
      ['a mapping as a key', '? [a, b]\n: p\n', /:1: a mapping key must be a plain value/],
      [
        'an alias bomb',
        'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
        /:\d+: YAML aliases expand too far/,
      ],
    ]
    for (const [label, text, expected] of cases) {
      writeFileSync(join(ctx.cwd, '.modelreg.yaml'), text)
      const r = await runCli(ctx, ['config', 'get', 'project'])
      expect(r.code, label).toBe(2)
      expect(r.stderr, label).toMatch(ONE_LINE)
      expect(r.stderr, label).toMatch(/^Error: config file \S+\.modelreg\.yaml:\d+: /)
      expect(r.stderr, label).toMatch(expected)
    }
    // Plain YAML, anchors and aliases within reason, and JSON still read.
    for (const text of ['project: fine\n', '# only a comment\n', '', 'x: &x {a: 1}\ny: *x\nproject: fine\n', '{"project": "fine"}\n', '%YAML 1.2\n---\nproject: fine\n']) {
      writeFileSync(join(ctx.cwd, '.modelreg.yaml'), text)
      const r = await runCli(ctx, ['config', 'get', 'project'])
      expect(r.code, text).toBe(0)
      expect(r.stderr, text).toBe('')
    }
  })
})

describe('files are refused on size before they are read', () => {
  it('a 100 MB --metadata-file: exit 2, one line with its size and the limit, little memory', async () => {
    const ctx = makeCliEnv()
    const before = await storeWithOneVersion(ctx)
    const big = await sparseFile(join(ctx.cwd, 'big.yaml'))
    const r = await runCliMeasured(ctx, ['models', 'push', 'm', 'w.bin', '--metadata-file', big])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(ONE_LINE)
    expect(r.stderr).toBe(`Error: --metadata-file ${big} is 104857600 bytes (100 MiB); the limit for this file is 1 MiB\n`)
    expect(r.peakRss).toBeLessThan(400 * 1024 * 1024)
    expect(storeSnapshot(ctx.home)).toEqual(before)
  })

  it('/dev/zero as --metadata-file: a bounded read stops at the limit', async () => {
    const ctx = makeCliEnv()
    const r = await runCliMeasured(ctx, ['models', 'push', 'm', 'w.bin', '--metadata-file', '/dev/zero'])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('Error: --metadata-file /dev/zero is larger than the 1 MiB limit for this file (reading stopped there)\n')
    expect(r.peakRss).toBeLessThan(400 * 1024 * 1024)
  })

  it('the other files: .modelreg.yaml, the user config, a sync file, the server config and its TLS files', async () => {
    const ctx = makeCliEnv()
    const expectRefused = (r: {code: number | null; stderr: string}, file: RegExp, limit: string) => {
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(ONE_LINE)
      expect(r.stderr).toMatch(file)
      expect(r.stderr).toMatch(new RegExp(` is 104857600 bytes \\(100 MiB\\); the limit for this file is ${limit}`))
    }

    await sparseFile(join(ctx.cwd, '.modelreg.yaml'))
    expectRefused(await runCli(ctx, ['config', 'get', 'project']), /^Error: config file \S+\/\.modelreg\.yaml is/, '64 KiB')
    await truncate(join(ctx.cwd, '.modelreg.yaml'), 0)

    const userDir = join(ctx.env.XDG_CONFIG_HOME as string, 'modelreg')
    mkdirSync(userDir, {recursive: true})
    await sparseFile(join(userDir, 'config.yaml'))
    expectRefused(await runCli(ctx, ['models']), /^Error: config file \S+\/config\.yaml is/, '64 KiB')
    await truncate(join(userDir, 'config.yaml'), 0)

    await sparseFile(join(ctx.cwd, 'sync.yaml'))
    expectRefused(await runCli(ctx, ['sync', 'sync.yaml']), /^Error: sync file sync\.yaml is/, '4 MiB')

    await sparseFile(join(ctx.cwd, 'server.yaml'))
    expectRefused(await serverStart(ctx, ['--config', 'server.yaml']), /^Error: server config server\.yaml is/, '64 KiB')

    const dataDir = join(tempDir('size-server-'), 'data')
    await sparseFile(join(ctx.cwd, 'cert.pem'))
    writeFileSync(join(ctx.cwd, 'key.pem'), 'not a key\n')
    writeFileSync(join(ctx.cwd, 'tls.yaml'), `data_dir: ${dataDir}\nauth:\n  enabled: false\ntls:\n  cert: cert.pem\n  key: key.pem\n`)
    expectRefused(await serverStart(ctx, ['--config', 'tls.yaml']), /^Error: TLS certificate \S+\/cert\.pem is/, '1 MiB')
    expect(existsSync(dataDir)).toBe(false)
  })
})
