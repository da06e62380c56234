#!/usr/bin/env node
/**
 * npm run bench [-- --quick] [-- --json | --markdown] [-- --only CASE,...] [-- --save FILE] [-- --keep]
 *
 * Cases: startup, local, remote, metrics, scale, reads, memory, move; and pgscale and pgreads (a
 * server on PostgreSQL + S3: transfers and ingest, then reads at scale; they need the test
 * services' MODELREG_TEST_* variables), python (the Python
 * client: needs .venv-python) and ui (pages rendered in Chromium: needs /usr/bin/chromium, and
 * is skipped with a note without it). A --quick run includes pgscale, pgreads, python, ui and move only
 * when named with --only.
 *
 * Every figure is a ratio against a baseline measured in the same run, on the same machine,
 * right next to it (the page cache here empties after a minute of idleness, so each modelreg
 * run is paired with a baseline run in the same state). Medians of several runs after a
 * warm-up. Uses only the project's dependencies and standard tools (cp, sync, openssl, curl).
 */
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {createHash, randomBytes} from 'node:crypto'
import {closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {cpus, freemem, totalmem, tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import Database from 'better-sqlite3'
import Table from 'cli-table3'
import {Pool, request} from 'undici'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const BIN = join(ROOT, 'bin', 'run.js')
const args = process.argv.slice(2)
const QUICK = args.includes('--quick')
const JSON_OUT = args.includes('--json')
const MARKDOWN = args.includes('--markdown')
/** Keep the scratch directory (stores, servers' data) to look into afterwards. */
const KEEP = args.includes('--keep')
/** Also write the results as JSON to this file, whatever is printed. */
const SAVE = args.includes('--save') ? args[args.indexOf('--save') + 1] : null
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null
const MB = 1024 * 1024
const GB = 1024 * MB

const SIZES = QUICK
  ? {file: 64 * MB, dirFiles: 4, reps: 2, points: 100_000, models: 500, versionsPerModel: 10, eventsPerVersion: 10, memFile: 256 * MB, loadSeconds: 1.5}
  : {file: GB, dirFiles: 8, reps: 5, points: 1_000_000, models: 10_000, versionsPerModel: 10, eventsPerVersion: 10, memFile: 4 * GB, loadSeconds: 4}

const scratch = mkdtempSync(join(process.env.BENCH_TMPDIR ?? tmpdir(), 'modelreg-bench-'))
const log = (message) => process.stderr.write(`${message}\n`)
const results = []

// ---------------------------------------------------------------------------------------------
// measuring

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

function timed(fn) {
  const start = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

async function timedAsync(fn) {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e9
}

function run(command, argv, options = {}) {
  const r = spawnSync(command, argv, {stdio: ['ignore', options.stdout ?? 'ignore', 'pipe'], env: options.env ?? process.env, cwd: options.cwd, maxBuffer: 1024 * MB})
  if (r.status !== 0) throw new Error(`${command} ${argv.join(' ')} exited ${r.status}: ${r.stderr?.toString().slice(0, 500)}`)
  return r
}

function modelreg(argv, env, options = {}) {
  return run(process.execPath, [BIN, ...argv], {...options, env: {...process.env, MODELREG_NO_PROGRESS: '1', ...env}})
}

/** Peak resident memory of a child, read from /proc while it runs. */
function spawnMeasured(command, argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {stdio: ['ignore', 'ignore', 'pipe'], env})
    let peak = 0
    let err = ''
    child.stderr.on('data', (c) => (err += c))
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
        if (m) peak = Math.max(peak, Number(m[1]) * 1024)
      } catch {
        // exited
      }
    }, 10)
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(poll)
      if (code !== 0) reject(new Error(`${argv.join(' ')} exited ${code}: ${err.slice(0, 500)}`))
      else resolve(peak)
    })
  })
}

function rss(pid, field = 'VmRSS') {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

/**
 * Pairs of (baseline, modelreg) runs, interleaved so both see the same cache state; a warm-up
 * pair first. `lowerIsBetter`: times (ratio = modelreg / baseline); otherwise rates.
 */
async function pairs(reps, baseline, subject) {
  await baseline(-1)
  await subject(-1)
  const b = []
  const s = []
  for (let i = 0; i < reps; i++) {
    b.push(await baseline(i))
    s.push(await subject(i))
  }
  return {baseline: median(b), modelreg: median(s)}
}

function record(entry) {
  results.push(entry)
  const verdict = entry.ok === null ? '' : entry.ok ? 'met' : 'NOT met'
  log(`  ${entry.case}: ${entry.modelreg_text} vs ${entry.baseline_text} -> ${entry.ratio.toFixed(2)}x (goal ${entry.goal}) ${verdict}`)
}

const fmtTime = (s) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`)
const fmtRate = (r, unit) => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M ${unit}/s` : r >= 1e3 ? `${(r / 1e3).toFixed(1)}k ${unit}/s` : `${r.toFixed(0)} ${unit}/s`)
const fmtBytes = (b) => (b >= GB ? `${(b / GB).toFixed(2)} GiB` : `${(b / MB).toFixed(0)} MiB`)

function timeCase(name, baselineName, goal, maxRatio, m) {
  const ratio = m.modelreg / m.baseline
  record({case: name, baseline_case: baselineName, modelreg: m.modelreg, baseline: m.baseline, unit: 's', modelreg_text: fmtTime(m.modelreg), baseline_text: `${fmtTime(m.baseline)} (${baselineName})`, ratio, goal, ok: maxRatio === null ? null : ratio <= maxRatio})
}

function rateCase(name, baselineName, goal, minRatio, m, unit) {
  const ratio = m.modelreg / m.baseline
  record({case: name, baseline_case: baselineName, modelreg: m.modelreg, baseline: m.baseline, unit: `${unit}/s`, modelreg_text: fmtRate(m.modelreg, unit), baseline_text: `${fmtRate(m.baseline, unit)} (${baselineName})`, ratio, goal, ok: ratio >= minRatio})
}

// ---------------------------------------------------------------------------------------------
// scratch data

function bigFile(path, size) {
  const fd = openSync(path, 'w')
  const block = randomBytes(4 * MB)
  for (let done = 0; done < size; done += block.length) {
    block.writeUInt32LE(done / block.length, 0) // no two blocks alike
    writeSync(fd, block, 0, Math.min(block.length, size - done))
  }
  closeSync(fd)
  return path
}

function freshHome(label) {
  const home = join(scratch, `home-${label}-${randomBytes(4).toString('hex')}`)
  return home
}

async function startServer(dataDir, extra = []) {
  mkdirSync(dataDir, {recursive: true})
  const token = JSON.parse(modelreg(['server', 'tokens', 'create', '--name', `bench-${randomBytes(3).toString('hex')}`, '--scope', 'admin', '--data-dir', dataDir, '--json'], {}, {stdout: 'pipe'}).stdout).token
  const child = spawn(process.execPath, [BIN, 'server', 'start', '--data-dir', dataDir, '--port', '0', '--quiet', '--json', ...extra], {stdio: ['ignore', 'pipe', 'ignore']})
  const banner = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]))
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
  return {url: banner.url, token, child, stop: () => new Promise((resolve) => (child.once('exit', resolve), child.kill('SIGTERM')))}
}

// ---------------------------------------------------------------------------------------------
// cases

async function startup() {
  log('start-up')
  const home = freshHome('startup')
  const model = join(scratch, 'small.bin')
  writeFileSync(model, 'small model')
  modelreg(['models', 'push', 'm', model], {MODELREG_HOME: home})
  const reps = QUICK ? 5 : 15
  const version = await pairs(reps, () => timed(() => run(process.execPath, ['-e', '0'])), () => timed(() => modelreg(['--version'], {MODELREG_HOME: home})))
  timeCase('start-up: modelreg --version', 'node -e 0', '<= 1.8x', 1.8, version)
  const show = await pairs(reps, () => timed(() => run(process.execPath, ['-e', '0'])), () => timed(() => modelreg(['models', 'show', 'm:latest', '--json'], {MODELREG_HOME: home})))
  timeCase('start-up: models show m:latest --json', 'node -e 0', '<= 2.2x', 2.2, show)
}

async function localTransfers() {
  log(`local push and download, ${fmtBytes(SIZES.file)}`)
  const file = bigFile(join(scratch, 'one.bin'), SIZES.file)
  const copy = join(scratch, 'copy.bin')
  const cpSync = () => timed(() => {
    run('cp', [file, copy])
    run('sync', [])
  })
  // Like the baseline's copy, each push's store is removed before the next run, so that both
  // write into a page cache in the same state (keeping them would leave the kernel more to evict).
  let home = ''
  const push = await pairs(SIZES.reps, () => (rmSync(copy, {force: true}), cpSync()), () => {
    if (home) rmSync(home, {recursive: true, force: true})
    home = freshHome('push')
    return timed(() => modelreg(['models', 'push', 'm', file], {MODELREG_HOME: home}))
  })
  timeCase(`local push, ${fmtBytes(SIZES.file)} file`, 'cp + sync', '<= 1.5x', 1.5, push)

  const out = join(scratch, 'download')
  const download = await pairs(SIZES.reps, () => (rmSync(copy, {force: true}), cpSync()), () => {
    rmSync(out, {recursive: true, force: true})
    return timed(() => {
      modelreg(['models', 'download', 'm', '-o', out], {MODELREG_HOME: home})
      run('sync', [])
    })
  })
  timeCase(`local download, ${fmtBytes(SIZES.file)}`, 'cp + sync', '<= 1.5x', 1.5, download)
  rmSync(out, {recursive: true, force: true})
  rmSync(copy, {force: true})

  log(`re-push of an unchanged ${fmtBytes(SIZES.file)} directory`)
  const dir = join(scratch, 'dir')
  mkdirSync(dir, {recursive: true})
  for (let i = 0; i < SIZES.dirFiles; i++) bigFile(join(dir, `shard-${i}.bin`), SIZES.file / SIZES.dirFiles)
  const dirHome = freshHome('repush')
  modelreg(['models', 'push', 'd', dir], {MODELREG_HOME: dirHome})
  const storeBytes = () => Number(execFileSync('du', ['-sb', join(dirHome, 'blobs')]).toString().split('\t')[0])
  const before = storeBytes()
  const files = Array.from({length: SIZES.dirFiles}, (_, i) => join(dir, `shard-${i}.bin`))
  const repush = await pairs(SIZES.reps, () => timed(() => run('openssl', ['dgst', '-sha256', ...files])), () => timed(() => modelreg(['models', 'push', 'd', dir], {MODELREG_HOME: dirHome})))
  const grown = storeBytes() - before
  timeCase(`re-push of an unchanged ${fmtBytes(SIZES.file)} directory`, 'openssl dgst -sha256', '<= 1.3x, no new bytes', 1.3, repush)
  results[results.length - 1].new_bytes_stored = grown
  if (grown !== 0) results[results.length - 1].ok = false
  rmSync(dir, {recursive: true, force: true})
  rmSync(dirHome, {recursive: true, force: true})
  rmSync(home, {recursive: true, force: true})
  return file
}

async function remoteTransfers(file) {
  log(`remote push and download, ${fmtBytes(SIZES.file)}`)
  const server = await startServer(join(scratch, 'server-transfers'))
  const env = {MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome('remote-client')}
  const sha = execFileSync('openssl', ['dgst', '-sha256', '-r', file]).toString().split(' ')[0]
  try {
    const curlUpload = () =>
      timed(() =>
        run('curl', ['-sS', '--fail', '-X', 'PUT', '-H', `Authorization: Bearer ${server.token}`, '-H', 'Content-Type: application/octet-stream', '-T', file, `${server.url}/api/v1/blobs/sha256/${sha}`]),
      )
    // Before each run the server holds no copy of the file, so both upload every byte.
    const forget = () => {
      spawnSync(process.execPath, [BIN, 'models', 'delete', 'r', '--yes'], {env: {...process.env, ...env}, stdio: 'ignore'})
      modelreg(['gc', '--grace', '0'], env)
    }
    const push = await pairs(
      SIZES.reps,
      () => {
        forget()
        return curlUpload()
      },
      () => {
        forget()
        return timed(() => modelreg(['models', 'push', 'r', file], env))
      },
    )
    timeCase(`remote push, ${fmtBytes(SIZES.file)}`, 'curl -T to the blob route', '<= 1.25x', 1.25, push)

    const out = join(scratch, 'remote-download')
    const curled = join(scratch, 'curled.bin')
    const download = await pairs(
      SIZES.reps,
      () => {
        rmSync(curled, {force: true})
        return timed(() => {
          run('curl', ['-sS', '--fail', '-H', `Authorization: Bearer ${server.token}`, '-o', curled, `${server.url}/api/v1/blobs/sha256/${sha}`])
          run('sync', [])
        })
      },
      () => {
        rmSync(out, {recursive: true, force: true})
        return timed(() => {
          modelreg(['models', 'download', 'r', '-o', out], env)
          run('sync', [])
        })
      },
    )
    timeCase(`remote download, ${fmtBytes(SIZES.file)}`, 'curl -o + sync', '<= 1.4x', 1.4, download)
    rmSync(out, {recursive: true, force: true})
    rmSync(curled, {force: true})
  } finally {
    await server.stop()
  }
}

function writePoints(path, count) {
  const fd = openSync(path, 'w')
  let chunk = ''
  const per = count / 4
  const rows = []
  for (const name of ['acc', 'loss']) {
    for (const split of ['train', 'valid']) {
      for (let step = 0; step < per; step++) {
        const value = Math.sin(step) / (step + 1)
        chunk += `{"name":"${name}","value":${value},"step":${step},"split":"${split}"}\n`
        rows.push([name, split, step, value])
        if (chunk.length > 4 * MB) {
          writeSync(fd, chunk)
          chunk = ''
        }
      }
    }
  }
  writeSync(fd, chunk)
  closeSync(fd)
  return rows
}

/** The baseline: the same rows into the same table with the same pragmas, 1,000 per transaction. */
function rawInserts(rows, file) {
  rmSync(file, {force: true})
  rmSync(`${file}-wal`, {force: true})
  const db = new Database(file)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(`CREATE TABLE metrics (run_id INTEGER NOT NULL, name TEXT NOT NULL, split TEXT NOT NULL DEFAULT '', step INTEGER NOT NULL, value REAL NOT NULL, time TEXT NOT NULL, PRIMARY KEY (run_id, name, split, step)) WITHOUT ROWID`)
  const insert = db.prepare('INSERT INTO metrics VALUES (1, ?, ?, ?, ?, ?)')
  const time = new Date().toISOString()
  const seconds = timed(() => {
    for (let i = 0; i < rows.length; i += 1000) {
      db.transaction(() => {
        for (let j = i; j < Math.min(i + 1000, rows.length); j++) insert.run(rows[j][0], rows[j][1], rows[j][2], rows[j][3], time)
      })()
    }
  })
  db.close()
  return seconds
}

async function metricIngest() {
  log(`metric ingest, ${SIZES.points.toLocaleString('en')} points`)
  const file = join(scratch, 'points.ndjson')
  const rows = writePoints(file, SIZES.points)
  const rawDb = join(scratch, 'raw.db')
  const local = {MODELREG_HOME: freshHome('metrics')}
  const localRate = await pairs(SIZES.reps, () => SIZES.points / rawInserts(rows, rawDb), () => {
    const id = modelreg(['runs', 'start', '-e', 'bench'], local, {stdout: 'pipe'}).stdout.toString().trim()
    return SIZES.points / timed(() => modelreg(['runs', 'log', id, '--file', file], local))
  })
  rateCase(`metric ingest, ${SIZES.points.toLocaleString('en')} points, local`, 'raw better-sqlite3 inserts, 1,000 a transaction', '>= 0.8x', 0.8, localRate, 'points')
  const server = await startServer(join(scratch, 'server-metrics'))
  try {
    const remote = {MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome('metrics-client')}
    const remoteRate = await pairs(SIZES.reps, () => SIZES.points / rawInserts(rows, rawDb), () => {
      const id = modelreg(['runs', 'start', '-e', 'bench'], remote, {stdout: 'pipe'}).stdout.toString().trim()
      return SIZES.points / timed(() => modelreg(['runs', 'log', id, '--file', file], remote))
    })
    rateCase(`metric ingest, ${SIZES.points.toLocaleString('en')} points, remote`, 'raw better-sqlite3 inserts, 1,000 a transaction', '>= 0.5x', 0.5, remoteRate, 'points')
  } finally {
    await server.stop()
  }
  rmSync(file, {force: true})
}

/** A store with many models, versions and events, written straight into its tables. */
function buildLargeStore(home) {
  modelreg(['projects', 'create', 'default'], {MODELREG_HOME: home})
  const db = new Database(join(home, 'registry.db'))
  db.pragma('journal_mode = WAL')
  const blob = createHash('sha256').update('weights').digest('hex')
  mkdirSync(join(home, 'blobs', 'sha256', blob.slice(0, 2)), {recursive: true})
  writeFileSync(join(home, 'blobs', 'sha256', blob.slice(0, 2), blob.slice(2)), 'weights', {mode: 0o444})
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const iso = (ms) => new Date(ms).toISOString()
  const {id: projectId} = db.prepare("SELECT id FROM projects WHERE name_key = 'default'").get()
  const insertModel = db.prepare('INSERT INTO models (project_id, name, name_key, description, created_at, updated_at, last_number) VALUES (?, ?, ?, ?, ?, ?, ?)')
  const insertVersion = db.prepare(
    `INSERT INTO versions (model_id, number, comment, author, created_at, metadata, metrics, source, size, file_count, attachment_count) VALUES (?, ?, ?, ?, ?, '{"data":"june"}', '{"auc":0.8}', '{}', 7, 1, 0)`,
  )
  const insertFile = db.prepare("INSERT INTO version_files (version_id, kind, path, size, sha256, mode) VALUES (?, 'file', 'model.bin', 7, ?, 420)")
  const insertTag = db.prepare('INSERT INTO tags (model_id, name_key, name, version_id, updated_at) VALUES (?, ?, ?, ?, ?)')
  const insertEvent = db.prepare(`INSERT INTO events (time, type, project, project_key, model, model_key, model_id, version, tag, actor, data) VALUES (?, ?, 'default', 'default', ?, ?, ?, ?, ?, 'bench', '{}')`)
  db.prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at, touched_at) VALUES (?, 7, ?, ?)').run(blob, iso(t0), iso(t0))
  let clock = t0
  db.transaction(() => {
    for (let m = 0; m < SIZES.models; m++) {
      const name = `model-${String(m).padStart(5, '0')}`
      const modelId = Number(insertModel.run(projectId, name, name, `model number ${m}`, iso(clock), iso(clock + 1000), SIZES.versionsPerModel).lastInsertRowid)
      let last = 0
      for (let v = 1; v <= SIZES.versionsPerModel; v++) {
        clock += 10
        last = Number(insertVersion.run(modelId, v, `version ${v}`, 'bench@example.com', iso(clock)).lastInsertRowid)
        insertFile.run(last, blob)
        for (let e = 0; e < SIZES.eventsPerVersion; e++) insertEvent.run(iso(clock), e === 0 ? 'version.created' : 'tag.set', name, name, modelId, v, e === 0 ? null : `tag${e}`)
      }
      insertTag.run(modelId, 'prod', 'prod', last, iso(clock))
    }
  })()
  db.close()
}

async function scale() {
  const versions = SIZES.models * SIZES.versionsPerModel
  const events = versions * SIZES.eventsPerVersion
  log(`registry at scale: ${SIZES.models.toLocaleString('en')} models, ${versions.toLocaleString('en')} versions, ${events.toLocaleString('en')} events`)
  const home = freshHome('scale')
  buildLargeStore(home)
  const env = {MODELREG_HOME: home}
  const name = `model-${String(Math.floor(SIZES.models / 2)).padStart(5, '0')}`
  const reps = QUICK ? 5 : 11
  const version = () => timed(() => modelreg(['--version'], env))
  const queries = [
    ['models:log NAME', ['models', 'log', name]],
    ['model list-versions NAME --limit 20', ['model', 'list-versions', name, '--limit', '20']],
    ['models --sort-by last_updated_time --limit 20', ['models', '--sort-by', 'last_updated_time', '--limit', '20']],
    ['models:show NAME:TAG', ['models', 'show', `${name}:prod`]],
  ]
  for (const [label, argv] of queries) {
    const m = await pairs(reps, version, () => timed(() => modelreg(argv, env)))
    timeCase(`at scale: ${label}`, 'modelreg --version', '<= 1.15x', 1.15, m)
  }
  // The same queries through the server: each route's median latency.
  const server = await startServer(home)
  try {
    await measureReads(server, name, '', 1)
  } finally {
    await server.stop()
  }
  if (!KEEP) rmSync(home, {recursive: true, force: true})
}

/** Requests per second over a fixed time from many connections. */
/**
 * The server routes a registry at scale answers most, each read right after a change (the read
 * cache is then empty: the goal is judged on this) and once more unchanged; medians after a warm-up.
 */
async function measureReads(server, name, label, goalMs) {
  const pool = new Pool(server.url, {connections: 1})
  const headers = {authorization: `Bearer ${server.token}`}
  const routes = [
    ['GET /projects/{p}/log?model=', `/api/v1/projects/default/log?model=${name}&limit=50`],
    ['GET /projects/{p}/models/{m}/versions?limit=20', `/api/v1/projects/default/models/${name}/versions?limit=20`],
    ['GET /projects/{p}/models?sort_by=last_updated_time&limit=20', '/api/v1/projects/default/models?sort_by=last_updated_time&order_by=desc&limit=20'],
    ['GET /projects/{p}/models/{m}/versions/prod', `/api/v1/projects/default/models/${name}/versions/prod`],
  ]
  const get = (path) =>
    timedAsync(async () => {
      const r = await pool.request({path, method: 'GET', headers})
      await r.body.dump()
      if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`)
    })
  let flip = 0
  const change = async (model) => {
    const r = await pool.request({
      path: `/api/v1/projects/default/models/${model}`,
      method: 'PATCH',
      headers: {...headers, 'content-type': 'application/json'},
      body: JSON.stringify({description: `changed ${flip++}`}),
    })
    await r.body.dump()
    if (r.statusCode !== 200) throw new Error(`PATCH: ${r.statusCode}`)
  }
  try {
    // After a change to the model read (nothing of it can come from the server's cache), after
    // a change to another model (a server that can tell what changed keeps this model's cached
    // answers, though not the project's list), and repeated.
    // A warm-up of every route first, as on a server that has been answering a while (its code
    // compiled, its database connections' statements prepared): else the route measured first
    // pays for it.
    for (let i = 0; i < (QUICK ? 20 : 100); i++) {
      for (const [, path] of routes) {
        await change(name)
        await get(path)
        await get(path)
      }
    }
    for (const [route, path] of routes) {
      const cold = []
      const elsewhere = []
      const warm = []
      for (let i = 0; i < (QUICK ? 40 : 200); i++) {
        await change(name)
        cold.push(await get(path))
        warm.push(await get(path))
        await change('model-00000')
        elsewhere.push(await get(path))
      }
      const ms = median(cold.slice(3)) * 1000
      const other = median(elsewhere.slice(3)) * 1000
      const cached = median(warm.slice(3)) * 1000
      record({
        case: `${label}at scale, server: ${route}`,
        baseline_case: `${goalMs} ms`,
        modelreg: ms,
        baseline: goalMs,
        unit: 'ms',
        modelreg_text: `${ms.toFixed(2)} ms after a change to it, ${other.toFixed(2)} ms after one elsewhere, ${cached.toFixed(2)} ms repeated`,
        baseline_text: `${goalMs} ms`,
        ratio: ms / goalMs,
        goal: `<= ${goalMs} ms`,
        ok: ms <= goalMs,
        cached_ms: cached,
        changed_elsewhere_ms: other,
      })
    }
  } finally {
    await pool.close()
  }
}

async function load(url, path, headers, seconds) {
  const pool = new Pool(url, {connections: 32, pipelining: 1})
  let count = 0
  const end = Date.now() + seconds * 1000
  const worker = async () => {
    while (Date.now() < end) {
      const r = await pool.request({path, method: 'GET', headers})
      await r.body.dump()
      count++
    }
  }
  await Promise.all(Array.from({length: 64}, worker))
  await pool.close()
  return count / seconds
}

async function serverReads() {
  log('server reads')
  const data = join(scratch, 'server-reads')
  const model = join(scratch, 'small-read.bin')
  writeFileSync(model, 'weights')
  const server = await startServer(data)
  const env = {MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome('reads')}
  modelreg(['models', 'push', 'm', model, '--metric', 'auc=0.8', '--meta', 'data=june'], env)
  const path = '/api/v1/projects/default/models/m/versions/1'
  const headers = {authorization: `Bearer ${server.token}`}
  // The baseline answers with the same bytes: the same body and the same headers.
  const answer = await request(`${server.url}${path}`, {headers})
  const body = await answer.body.text()
  const sameHeaders = Object.fromEntries(Object.entries(answer.headers).filter(([name]) => !['date', 'connection', 'keep-alive', 'content-length'].includes(name)))
  const bareScript = join(scratch, 'bare.mjs')
  writeFileSync(
    bareScript,
    `import http from 'node:http'\nconst body = Buffer.from(${JSON.stringify(body)})\nconst headers = ${JSON.stringify(sameHeaders)}\nconst s = http.createServer((req, res) => { res.writeHead(200, {...headers, 'content-length': body.length}); res.end(body) })\ns.listen(0, '127.0.0.1', () => console.log(JSON.stringify({url: 'http://127.0.0.1:' + s.address().port})))\n`,
  )
  const bare = spawn(process.execPath, [bareScript], {stdio: ['ignore', 'pipe', 'ignore']})
  const bareUrl = await new Promise((resolve) => bare.stdout.once('data', (c) => resolve(JSON.parse(c.toString()).url)))
  try {
    const m = await pairs(QUICK ? 1 : 3, () => load(bareUrl, path, {}, SIZES.loadSeconds), () => load(server.url, path, headers, SIZES.loadSeconds))
    rateCase('server reads: GET a version, 32 connections', 'bare node:http, same headers and body', '>= 0.5x', 0.5, m, 'req')
  } finally {
    bare.kill()
    await server.stop()
  }
}

async function memory(file) {
  log(`memory, ${fmtBytes(SIZES.memFile)} push and download`)
  const big = SIZES.memFile === SIZES.file && file ? file : bigFile(join(scratch, 'mem.bin'), SIZES.memFile)
  const env = {...process.env, MODELREG_NO_PROGRESS: '1', MODELREG_HOME: freshHome('mem')}
  const out = join(scratch, 'mem-out')
  const localPush = await spawnMeasured(process.execPath, [BIN, 'models', 'push', 'm', big], env)
  const localDown = await spawnMeasured(process.execPath, [BIN, 'models', 'download', 'm', '-o', out], env)
  rmSync(out, {recursive: true, force: true})
  rmSync(env.MODELREG_HOME, {recursive: true, force: true})
  const server = await startServer(join(scratch, 'server-mem'))
  let serverIdle = 0
  let serverPeak = 0
  let remotePush = 0
  let remoteDown = 0
  try {
    await new Promise((resolve) => setTimeout(resolve, 500))
    serverIdle = rss(server.child.pid)
    const renv = {...env, MODELREG_URL: server.url, MODELREG_TOKEN: server.token}
    let peak = 0
    const poll = setInterval(() => (peak = Math.max(peak, rss(server.child.pid))), 10)
    remotePush = await spawnMeasured(process.execPath, [BIN, 'models', 'push', 'm', big], renv)
    remoteDown = await spawnMeasured(process.execPath, [BIN, 'models', 'download', 'm', '-o', out], renv)
    clearInterval(poll)
    serverPeak = peak
  } finally {
    await server.stop()
  }
  rmSync(out, {recursive: true, force: true})
  if (big !== file) rmSync(big, {force: true})
  const client = Math.max(localPush, localDown, remotePush, remoteDown)
  const mb = (b) => b / MB
  record({
    case: `memory: client, ${fmtBytes(SIZES.memFile)} push and download (local, remote)`,
    baseline_case: '128 MB',
    modelreg: mb(client),
    baseline: 128,
    unit: 'MB',
    modelreg_text: `${mb(client).toFixed(0)} MB peak (push ${mb(localPush).toFixed(0)}/${mb(remotePush).toFixed(0)}, download ${mb(localDown).toFixed(0)}/${mb(remoteDown).toFixed(0)})`,
    baseline_text: '128 MB',
    ratio: mb(client) / 128,
    goal: '<= 128 MB',
    ok: mb(client) <= 128,
  })
  record({
    case: `memory: server, ${fmtBytes(SIZES.memFile)} up and down`,
    baseline_case: 'idle server + 64 MB',
    modelreg: mb(serverPeak),
    baseline: mb(serverIdle) + 64,
    unit: 'MB',
    modelreg_text: `${mb(serverPeak).toFixed(0)} MB peak`,
    baseline_text: `${mb(serverIdle).toFixed(0)} MB idle + 64 MB`,
    ratio: mb(serverPeak) / (mb(serverIdle) + 64),
    goal: '<= idle + 64 MB',
    ok: serverPeak <= serverIdle + 64 * MB,
  })
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL + S3 (tracker issue 11) and the Python client (tracker issue 15)

/** The test services' settings (scripts/test-services.sh env), or why there are none. */
function servicesEnv() {
  const names = ['MODELREG_TEST_DATABASE_URL', 'MODELREG_TEST_S3_ENDPOINT', 'MODELREG_TEST_S3_BUCKET', 'MODELREG_TEST_S3_ACCESS_KEY_ID', 'MODELREG_TEST_S3_SECRET_ACCESS_KEY']
  const missing = names.filter((n) => !process.env[n])
  if (missing.length) return {reason: `${missing.join(', ')} not set (eval "$(bash scripts/test-services.sh env)")`}
  return {
    databaseUrl: process.env.MODELREG_TEST_DATABASE_URL,
    endpoint: process.env.MODELREG_TEST_S3_ENDPOINT,
    bucket: process.env.MODELREG_TEST_S3_BUCKET,
    region: process.env.MODELREG_TEST_S3_REGION || 'us-east-1',
    awsEnv: {
      AWS_ACCESS_KEY_ID: process.env.MODELREG_TEST_S3_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: process.env.MODELREG_TEST_S3_SECRET_ACCESS_KEY,
      AWS_REGION: process.env.MODELREG_TEST_S3_REGION || 'us-east-1',
    },
  }
}

/** A server config on the test services' PostgreSQL (its own schema) and bucket (its own prefix). */
function pgS3Config(services, label, extra = []) {
  const id = `${label}_${randomBytes(4).toString('hex')}`
  const dir = join(scratch, `server-${id}`)
  mkdirSync(dir, {recursive: true})
  const schema = `bench_${id}`
  const file = join(dir, 'server.yaml')
  writeFileSync(
    file,
    [`data_dir: ${join(dir, 'data')}`, `metadata: ${services.databaseUrl}`, `blobs: s3://${services.bucket}/bench-${id.replace(/_/g, '-')}`, 'database:', `  schema: ${schema}`, 's3:', `  endpoint: ${services.endpoint}`, `  region: ${services.region}`, ...extra, ''].join('\n'),
  )
  return {file, schema}
}

async function startConfigServer(configFile, env) {
  const fullEnv = {...process.env, MODELREG_NO_PROGRESS: '1', ...env}
  const token = JSON.parse(modelreg(['server', 'tokens', 'create', '--name', `bench-${randomBytes(3).toString('hex')}`, '--scope', 'admin', '--config', configFile, '--json'], env, {stdout: 'pipe'}).stdout).token
  const child = spawn(process.execPath, [BIN, 'server', 'start', '--config', configFile, '--port', '0', '--quiet', '--json'], {stdio: ['ignore', 'pipe', 'pipe'], env: fullEnv})
  let err = ''
  child.stderr.on('data', (c) => (err += c))
  const banner = await new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (c) => {
      out += c
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]))
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}: ${err.slice(0, 500)}`)))
  })
  return {url: banner.url, token, child, stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.kill('SIGTERM'))))}
}

async function dropSchema(services, schema) {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: services.databaseUrl})
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}

/** The registry at scale in PostgreSQL: the same rows as buildLargeStore, set-based SQL. */
async function fillPostgres(services, schema, digest) {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: services.databaseUrl})
  await client.connect()
  const M = SIZES.models
  const V = SIZES.versionsPerModel
  const E = SIZES.eventsPerVersion
  // ISO times as the engine writes them: 2026-01-01T00:00:00.000Z plus some milliseconds.
  const iso = (ms) => `to_char(timestamp '2026-01-01 00:00:00' + (${ms}) * interval '1 millisecond', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
  try {
    await client.query(`SET search_path TO ${schema}`)
    await client.query('BEGIN')
    const {rows} = await client.query("SELECT id FROM projects WHERE name_key = 'default'")
    const projectId = rows[0].id
    await client.query(
      `INSERT INTO models (project_id, name, name_key, description, created_at, updated_at, last_number)
       SELECT $1, 'model-' || lpad(m::text, 5, '0'), 'model-' || lpad(m::text, 5, '0'), 'model number ' || m, ${iso(`m::bigint * ${V * 10}`)}, ${iso(`m::bigint * ${V * 10} + 1000`)}, ${V}
       FROM generate_series(0, ${M - 1}) AS m`,
      [projectId],
    )
    await client.query(
      `INSERT INTO versions (model_id, number, comment, author, created_at, metadata, metrics, source, size, file_count, attachment_count)
       SELECT mo.id, v, 'version ' || v, 'bench@example.com', ${iso(`(substr(mo.name, 7)::bigint * ${V} + v) * 10`)}, '{"data":"june"}', '{"auc":0.8}', '{}', 7, 1, 0
       FROM models mo CROSS JOIN generate_series(1, ${V}) AS v
       WHERE mo.project_id = $1 AND mo.name LIKE 'model-%'
       ORDER BY mo.id, v`,
      [projectId],
    )
    await client.query(
      `INSERT INTO version_files (version_id, kind, path, size, sha256, mode)
       SELECT ve.id, 'file', 'model.bin', 7, $2, 420 FROM versions ve JOIN models mo ON mo.id = ve.model_id WHERE mo.project_id = $1 AND mo.name LIKE 'model-%'`,
      [projectId, digest],
    )
    await client.query(
      `INSERT INTO tags (model_id, name_key, name, version_id, updated_at)
       SELECT mo.id, 'prod', 'prod', ve.id, ve.created_at FROM models mo JOIN versions ve ON ve.model_id = mo.id AND ve.number = ${V}
       WHERE mo.project_id = $1 AND mo.name LIKE 'model-%'`,
      [projectId],
    )
    const {rows: counter} = await client.query("SELECT value FROM counters WHERE name = 'events' FOR UPDATE")
    const base = Number(counter[0].value)
    await client.query(
      `INSERT INTO events (id, time, type, project, project_key, model, model_key, model_id, version, tag, actor, data)
       SELECT ${base} + row_number() OVER (ORDER BY ve.id, e), ve.created_at, CASE WHEN e = 0 THEN 'version.created' ELSE 'tag.set' END, 'default', 'default', mo.name, mo.name_key, mo.id, ve.number,
              CASE WHEN e = 0 THEN NULL ELSE 'tag' || e END, 'bench', '{}'
       FROM versions ve JOIN models mo ON mo.id = ve.model_id CROSS JOIN generate_series(0, ${E - 1}) AS e
       WHERE mo.project_id = $1 AND mo.name LIKE 'model-%'`,
      [projectId],
    )
    await client.query("UPDATE counters SET value = (SELECT max(id) FROM events) WHERE name = 'events'")
    await client.query('COMMIT')
    // Vacuumed and analyzed now, as a registry that has been running a while is: else autovacuum
    // takes the freshly filled tables on while the reads are measured.
    await client.query('VACUUM (ANALYZE) models, versions, version_files, tags, events')
  } finally {
    await client.end()
  }
}

async function unfillPostgres(services, schema) {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: services.databaseUrl})
  await client.connect()
  try {
    // The schema's trigger functions name their tables unqualified, as the server's connections do.
    await client.query(`SET search_path TO ${schema}`)
    await client.query(`DELETE FROM models WHERE name LIKE 'model-%'`)
  } finally {
    await client.end()
  }
}

/** Remote push, download and metric ingest through a server on PostgreSQL + S3, against the same through a server on SQLite + files. */
async function pgScale(file) {
  const services = servicesEnv()
  if (services.reason) {
    log(`PostgreSQL + S3: not run: ${services.reason}`)
    return
  }
  log(`PostgreSQL + S3: remote push and download, ${fmtBytes(SIZES.file)}; metric ingest, ${SIZES.points.toLocaleString('en')} points`)
  const schemas = []
  const sqlite = await startServer(join(scratch, 'server-pgscale-sqlite'))
  const servers = []
  try {
    const envFor = (server, label) => ({MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome(label)})
    const sqliteEnv = envFor(sqlite, 'pgscale-sqlite')
    // Before each push the server holds no copy of the file (for S3 that also keeps the
    // test services' RAM-backed OSD from filling: RGW's own gc frees deleted objects).
    const forget = (env) => {
      spawnSync(process.execPath, [BIN, 'models', 'delete', 'r', '--yes'], {env: {...process.env, MODELREG_NO_PROGRESS: '1', ...env}, stdio: 'ignore'})
      modelreg(['gc', '--grace', '0'], env)
    }
    const pushTo = (env) => () => {
      forget(env)
      return timed(() => modelreg(['models', 'push', 'r', file], env))
    }
    const out = join(scratch, 'pgscale-download')
    const downloadFrom = (env) => () => {
      rmSync(out, {recursive: true, force: true})
      return timed(() => {
        modelreg(['models', 'download', 'r', '-o', out], env)
        run('sync', [])
      })
    }
    // The bytes through the server (it hashes and signs every part), then straight between the
    // client and the bucket (s3.presign: the server hands out presigned URLs and checks the result).
    for (const [shape, extra] of [['', []], ['presigned, ', ['  presign: true']]]) {
      const pgConfig = pgS3Config(services, shape ? 'presign' : 'transfers', extra)
      schemas.push(pgConfig.schema)
      const pgServer = await startConfigServer(pgConfig.file, services.awsEnv)
      servers.push(pgServer)
      const pgEnv = envFor(pgServer, `pgscale-pg-${shape ? 'presign' : 'proxied'}`)
      const push = await pairs(SIZES.reps, pushTo(sqliteEnv), pushTo(pgEnv))
      timeCase(`PostgreSQL + S3: ${shape}remote push, ${fmtBytes(SIZES.file)}`, 'the same, server on SQLite + files', '<= 1.5x', 1.5, push)
      const download = await pairs(SIZES.reps, downloadFrom(sqliteEnv), downloadFrom(pgEnv))
      timeCase(`PostgreSQL + S3: ${shape}remote download, ${fmtBytes(SIZES.file)}`, 'the same, server on SQLite + files', '<= 1.5x', 1.5, download)
      rmSync(out, {recursive: true, force: true})
      forget(pgEnv)
      forget(sqliteEnv)
      if (shape) break
      const points = join(scratch, 'pgscale-points.ndjson')
      writePoints(points, SIZES.points)
      const ingestTo = (env) => () => {
        const id = modelreg(['runs', 'start', '-e', 'bench'], env, {stdout: 'pipe'}).stdout.toString().trim()
        return SIZES.points / timed(() => modelreg(['runs', 'log', id, '--file', points], env))
      }
      const ingest = await pairs(SIZES.reps, ingestTo(sqliteEnv), ingestTo(pgEnv))
      rateCase(`PostgreSQL + S3: metric ingest, ${SIZES.points.toLocaleString('en')} points`, 'the same, server on SQLite + files', '>= 0.25x', 0.25, ingest, 'points')
      rmSync(points, {force: true})
      await pgServer.stop()
    }
  } finally {
    for (const server of servers) await server.stop()
    await sqlite.stop()
    if (!KEEP) for (const schema of schemas) await dropSchema(services, schema).catch((e) => log(`  could not drop schema ${schema}: ${e.message}`))
  }
}

/** The registry at scale on PostgreSQL: the server's median latency for the read routes of `scale`. */
async function pgReads() {
  const services = servicesEnv()
  if (services.reason) {
    log(`PostgreSQL at scale: not run: ${services.reason}`)
    return
  }
  const versions = SIZES.models * SIZES.versionsPerModel
  log(`PostgreSQL at scale: ${SIZES.models.toLocaleString('en')} models, ${versions.toLocaleString('en')} versions, ${(versions * SIZES.eventsPerVersion).toLocaleString('en')} events`)
  const scaleConfig = pgS3Config(services, 'scale')
  const envFor = (server, label) => ({MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome(label)})
  let pgServer = null
  try {
    // A first start migrates the schema; one small push creates the default project and a blob
    // in the bucket that every filled version then names.
    pgServer = await startConfigServer(scaleConfig.file, services.awsEnv)
    const seed = join(scratch, 'seed.bin')
    writeFileSync(seed, 'weights')
    modelreg(['models', 'push', 'seed', seed], envFor(pgServer, 'pgscale-seed'))
    await pgServer.stop()
    const fillSeconds = await timedAsync(() => fillPostgres(services, scaleConfig.schema, createHash('sha256').update('weights').digest('hex')))
    log(`  filled in ${fillSeconds.toFixed(1)} s`)
    pgServer = await startConfigServer(scaleConfig.file, services.awsEnv)
    const name = `model-${String(Math.floor(SIZES.models / 2)).padStart(5, '0')}`
    await measureReads(pgServer, name, 'PostgreSQL ', 2)
    await pgServer.stop()
    pgServer = null
    if (KEEP) {
      log(`  kept schema ${scaleConfig.schema} and its rows (${scaleConfig.file})`)
      return
    }
    // The seed's blob: gone from the bucket once nothing names it (the filled versions, then the seed).
    await unfillPostgres(services, scaleConfig.schema)
    pgServer = await startConfigServer(scaleConfig.file, services.awsEnv)
    const seedEnv = envFor(pgServer, 'pgscale-seed-gc')
    spawnSync(process.execPath, [BIN, 'models', 'delete', 'seed', '--yes'], {env: {...process.env, MODELREG_NO_PROGRESS: '1', ...seedEnv}, stdio: 'ignore'})
    spawnSync(process.execPath, [BIN, 'gc', '--grace', '0'], {env: {...process.env, MODELREG_NO_PROGRESS: '1', ...seedEnv}, stdio: 'ignore'})
  } finally {
    if (pgServer) await pgServer.stop()
    if (!KEEP) await dropSchema(services, scaleConfig.schema).catch((e) => log(`  could not drop schema ${scaleConfig.schema}: ${e.message}`))
  }
}

const PYTHON = join(ROOT, '.venv-python', 'bin', 'python')

const PYTHON_LOOP = `
import json, math, sys, time
import modelreg

url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
per = count // 4
reg = modelreg.connect(url=url, token=token)
with reg.start_run('bench') as run:
    inside = 0.0
    clock = time.perf_counter
    start = clock()
    for step in range(per):
        value = math.sin(step) / (step + 1)
        a = clock()
        run.log({'acc': value, 'loss': value}, step=step, split='train')
        run.log({'acc': value, 'loss': value}, step=step, split='valid')
        inside += clock() - a
    looped = clock()
    run.flush()
    end = clock()
reg.close()
print(json.dumps({'seconds': end - start, 'loop_seconds': looped - start, 'log_seconds': inside, 'calls': per * 2, 'points': per * 4}))
`

/** Points logged from a Python training loop, against the CLI's file ingest of the same points into the same server. */
async function pythonClient() {
  if (!existsSync(PYTHON)) {
    log('Python client: not run: no .venv-python (bash scripts/python-env.sh makes it)')
    return
  }
  const points = QUICK ? 20_000 : 100_000
  log(`Python client: metric ingest, ${points.toLocaleString('en')} points`)
  const script = join(scratch, 'loop.py')
  writeFileSync(script, PYTHON_LOOP)
  const file = join(scratch, 'python-points.ndjson')
  writePoints(file, points)
  const server = await startServer(join(scratch, 'server-python'))
  try {
    const env = {MODELREG_URL: server.url, MODELREG_TOKEN: server.token, MODELREG_HOME: freshHome('python-cli')}
    const pyEnv = {...process.env, MODELREG_HOME: freshHome('python'), MODELREG_NO_PROGRESS: '1'}
    const loops = []
    const m = await pairs(
      SIZES.reps,
      () => {
        const id = modelreg(['runs', 'start', '-e', 'bench'], env, {stdout: 'pipe'}).stdout.toString().trim()
        return points / timed(() => modelreg(['runs', 'log', id, '--file', file], env))
      },
      () => {
        let out
        const wall = timed(() => (out = JSON.parse(run(PYTHON, [script, server.url, server.token, String(points)], {env: pyEnv, stdout: 'pipe'}).stdout.toString())))
        if (out.points !== points) throw new Error(`the Python loop logged ${out.points} points, not ${points}`)
        loops.push({...out, wall})
        // From the first log() to the end of flush(): what the training loop waits for. (The CLI's
        // figure includes its own start-up; Python's start-up, connect and start_run are in `wall`.)
        return points / out.seconds
      },
    )
    const measured = loops.slice(1) // without the warm-up
    const logShare = median(measured.map((o) => o.log_seconds / o.seconds))
    const perCall = median(measured.map((o) => (o.log_seconds / o.calls) * 1e6))
    const logSeconds = median(measured.map((o) => o.log_seconds))
    const wall = median(measured.map((o) => o.wall))
    // No goal set yet (issue 15): reported, not judged.
    record({
      case: `Python client: metric ingest, ${points.toLocaleString('en')} points, run.log() loop`,
      baseline_case: 'CLI runs log --file, same points, same server',
      modelreg: m.modelreg,
      baseline: m.baseline,
      unit: 'points/s',
      modelreg_text: `${fmtRate(m.modelreg, 'points')} logged and flushed; inside log(): ${fmtTime(logSeconds)}, ${perCall.toFixed(1)} µs a call of 2 points, ${(logShare * 100).toFixed(0)}% of that time; whole python process ${fmtTime(wall)}`,
      baseline_text: `${fmtRate(m.baseline, 'points')} (CLI runs log --file, same points, same server)`,
      ratio: m.modelreg / m.baseline,
      goal: 'none set',
      ok: null,
      log_seconds: logSeconds,
      log_us_per_call: perCall,
      log_share: logShare,
      python_process_seconds: wall,
    })
  } finally {
    await server.stop()
    rmSync(file, {force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// the web UI in Chromium

const CHROMIUM = '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
const UI_SIZES = QUICK ? {models: 1000, runs: 10_000, points: 100_000} : {models: 10_000, runs: 100_000, points: 1_000_000}

/** A store for the UI rows, written straight into its tables: models, an experiment's runs, one long series. */
function buildUiStore(home) {
  modelreg(['projects', 'create', 'default'], {MODELREG_HOME: home})
  const db = new Database(join(home, 'registry.db'))
  db.pragma('journal_mode = WAL')
  const blob = createHash('sha256').update('weights').digest('hex')
  mkdirSync(join(home, 'blobs', 'sha256', blob.slice(0, 2)), {recursive: true})
  writeFileSync(join(home, 'blobs', 'sha256', blob.slice(0, 2), blob.slice(2)), 'weights', {mode: 0o444})
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const iso = (ms) => new Date(ms).toISOString()
  const {id: projectId} = db.prepare("SELECT id FROM projects WHERE name_key = 'default'").get()
  const insertModel = db.prepare('INSERT INTO models (project_id, name, name_key, description, created_at, updated_at, last_number) VALUES (?, ?, ?, ?, ?, ?, 3)')
  const insertVersion = db.prepare(
    `INSERT INTO versions (model_id, number, comment, author, created_at, metadata, metrics, source, size, file_count, attachment_count) VALUES (?, ?, 'bench', 'bench@example.com', ?, '{}', ?, '{}', 7, 1, 0)`,
  )
  const insertFile = db.prepare("INSERT INTO version_files (version_id, kind, path, size, sha256, mode) VALUES (?, 'file', 'model.bin', 7, ?, 420)")
  db.prepare('INSERT OR IGNORE INTO blobs (digest, size, created_at, touched_at) VALUES (?, 7, ?, ?)').run(blob, iso(t0), iso(t0))
  const experimentId = Number(db.prepare("INSERT INTO experiments (project_id, name, name_key, description, created_at, updated_at) VALUES (?, 'sweep', 'sweep', 'a big sweep', ?, ?)").run(projectId, iso(t0), iso(t0)).lastInsertRowid)
  const insertRun = db.prepare("INSERT INTO runs (uid, experiment_id, name, name_key, status, params, author, created_at, start_time, end_time) VALUES (?, ?, ?, ?, 'completed', ?, 'bench@example.com', ?, ?, ?)")
  const insertSeries = db.prepare('INSERT INTO metric_series (run_id, name, split, last_step, last_value) VALUES (?, ?, ?, ?, ?)')
  const big = randomBytes(6).toString('hex')
  db.transaction(() => {
    for (let m = 0; m < UI_SIZES.models; m++) {
      const name = `model-${String(m).padStart(5, '0')}`
      const modelId = Number(insertModel.run(projectId, name, name, `model number ${m}`, iso(t0 + m * 1000), iso(t0 + m * 1000 + 500)).lastInsertRowid)
      for (let v = 1; v <= 3; v++) insertFile.run(Number(insertVersion.run(modelId, v, iso(t0 + m * 1000 + v * 100), JSON.stringify({auc: 0.7 + v / 100})).lastInsertRowid), blob)
    }
    for (let r = 0; r < UI_SIZES.runs; r++) {
      const uid = r === 0 ? big : randomBytes(6).toString('hex')
      const name = `run-${r}`
      const params = JSON.stringify({lr: 10 ** -(1 + (r % 5)), batch_size: 32 << (r % 4), optimizer: r % 2 ? 'adamw' : 'sgd', seed: r})
      const id = Number(insertRun.run(uid, experimentId, name, name, params, iso(t0 + r * 1000), iso(t0 + r * 1000), iso(t0 + r * 1000 + 600_000)).lastInsertRowid)
      if (r === 0) continue
      insertSeries.run(id, 'loss', 'train', 999, 1 / (1 + (r % 97)))
      insertSeries.run(id, 'accuracy', 'val', 999, (r % 89) / 100)
    }
  })()
  // The long series of the first run, in one statement.
  db.prepare(
    `INSERT INTO metrics (run_id, name, split, step, value, time)
     WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ${UI_SIZES.points - 1})
     SELECT (SELECT id FROM runs WHERE uid = ?), 'loss', 'train', i, 1.0 / (1 + i / 10000.0) + ((i * 7919) % 1000) / 20000.0, ? FROM g`,
  ).run(big, iso(t0))
  db.prepare("INSERT INTO metric_series (run_id, name, split, last_step, last_value) SELECT id, 'loss', 'train', ?, 0.01 FROM runs WHERE uid = ?").run(UI_SIZES.points - 1, big)
  db.close()
  return {bigRun: big}
}

/**
 * Time to a rendered page in Chromium: from the navigation's start to the frame after the page's
 * content is there (the table parsed, or the chart drawn: the bundle counts a chart's loads on
 * its element once it has drawn), measured in the page (performance.now() counts from the
 * navigation's start). Next to it, the same page's JSON call alone.
 */
async function uiPages() {
  if (!existsSync(CHROMIUM)) {
    log(`ui: skipped: the UI rows need ${CHROMIUM} (apt-get install -y chromium)`)
    return
  }
  let chromium
  try {
    ;({chromium} = await import('playwright-core'))
  } catch {
    log('ui: skipped: playwright-core is not installed (a dev dependency)')
    return
  }
  log(`web UI in Chromium: ${UI_SIZES.models.toLocaleString('en')} models, ${UI_SIZES.runs.toLocaleString('en')} runs, a ${UI_SIZES.points.toLocaleString('en')}-point series`)
  const home = freshHome('ui')
  const {bigRun} = buildUiStore(home)
  const server = await startServer(home)
  const browser = await chromium.launch({executablePath: CHROMIUM, args: CHROMIUM_ARGS})
  const pool = new Pool(server.url, {connections: 1})
  try {
    const context = await browser.newContext({viewport: {width: 1280, height: 800}})
    await context.addCookies([{name: 'modelreg_session', value: server.token, url: server.url, httpOnly: true, sameSite: 'Strict'}])
    // Records when the awaited element appears (parsed or drawn), then the next frame.
    await context.addInitScript(`(() => {
      const seen = (selector) => {
        const found = () => { const el = document.querySelector(selector); return el && (!el.classList.contains('mr-chart') || Number(el.dataset.loads || 0) >= 1) }
        const done = () => requestAnimationFrame(() => { window.__mrRendered = performance.now() })
        const watcher = new MutationObserver(() => { if (found()) { watcher.disconnect(); done() } })
        watcher.observe(document, {subtree: true, childList: true, attributes: true, attributeFilter: ['data-loads']})
      }
      const wanted = new URLSearchParams(location.search).get('bench_wait')
      if (wanted) seen(wanted)
    })()`)
    const headers = {authorization: `Bearer ${server.token}`}
    const pages = [
      {label: `models page, ${UI_SIZES.models.toLocaleString('en')} models`, goal: 300, path: '/projects/default', wait: '#mr-models tbody tr', api: '/api/v1/projects/default/models?sort_by=name&order_by=asc&limit=50'},
      {label: `runs page, ${UI_SIZES.runs.toLocaleString('en')} runs`, goal: 500, path: '/projects/default/experiments/sweep', wait: '#mr-runs tbody tr', api: '/api/v1/projects/default/runs?experiment=sweep&sort_by=created_at&order_by=desc&limit=50'},
      {label: `run page, a ${UI_SIZES.points.toLocaleString('en')}-point series`, goal: 800, path: `/runs/${bigRun}`, wait: '.mr-chart', api: null, also: `/api/v1/runs/${bigRun}`},
    ]
    const reps = QUICK ? 5 : 11
    for (const p of pages) {
      const page = await context.newPage()
      // The run page's own chart call (its buckets follow the chart's width) is the one timed alone.
      page.on('request', (r) => {
        const url = new URL(r.url())
        if (url.pathname.endsWith('/downsampled')) p.api = url.pathname + url.search
      })
      const times = []
      for (let i = -1; i < reps; i++) {
        // The selector to wait for rides in the query (the pages ignore unknown parameters).
        const url = `${server.url}${p.path}?bench_wait=${encodeURIComponent(p.wait)}`
        await page.goto(url, {waitUntil: 'commit'})
        const handle = await page.waitForFunction(() => window.__mrRendered, null, {timeout: 60_000})
        const ms = await handle.jsonValue()
        if (i >= 0) times.push(ms)
      }
      await page.close()
      const callMs = async (path) => {
        const times = []
        for (let i = -1; i < reps; i++) {
          const s = await timedAsync(async () => {
            const r = await pool.request({path, method: 'GET', headers})
            await r.body.dump()
            if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`)
          })
          if (i >= 0) times.push(s * 1000)
        }
        return median(times)
      }
      const ms = median(times)
      const apiMs = await callMs(p.api)
      // The run page also reads the run itself (its series' summaries) before it is sent.
      const runMs = p.also ? await callMs(p.also) : null
      const apiLabel = p.api.replace(/^\/api\/v1/, '').replace(bigRun, '{run}').replace(/\?.*$/, '')
      record({
        case: `web UI: ${p.label}, rendered in Chromium`,
        baseline_case: `GET ${apiLabel} alone`,
        modelreg: ms,
        baseline: apiMs,
        unit: 'ms',
        modelreg_text: `${ms.toFixed(0)} ms`,
        baseline_text: `${apiMs.toFixed(1)} ms (GET ${apiLabel} alone)${runMs === null ? '' : `; GET /runs/{run}: ${runMs.toFixed(1)} ms`}`,
        ratio: ms / apiMs,
        goal: `<= ${p.goal} ms`,
        ok: ms <= p.goal,
        ...(runMs === null ? {} : {run_api_ms: runMs}),
      })
    }
  } finally {
    await pool.close()
    await browser.close()
    await server.stop()
    if (!KEEP) rmSync(home, {recursive: true, force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// move: export, import, copy

/** A seeding script run in its own process, through the library (a push per version, as users make them). */
const SEED_SCRIPT = `
import {mkdirSync, openSync, writeSync, closeSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
const [root, home, work, models, perModel, bytes] = process.argv.slice(2)
const {LocalBackend} = await import(join(root, 'dist/backends/local/local-backend.js'))
const {pushVersion} = await import(join(root, 'dist/registry/push.js'))
const b = new LocalBackend({home, actor: 'bench@example.com'})
const block = randomBytes(Math.min(Number(bytes), 4 * 1024 * 1024))
for (let m = 0; m < Number(models); m++) {
  for (let v = 0; v < Number(perModel); v++) {
    const dir = join(work, 'v-' + m + '-' + v)
    mkdirSync(dir, {recursive: true})
    const fd = openSync(join(dir, 'model.bin'), 'w')
    const head = Buffer.from(m + '-' + v + '-')
    writeSync(fd, head)
    for (let done = head.length; done < Number(bytes); done += block.length) writeSync(fd, block, 0, Math.min(block.length, Number(bytes) - done))
    closeSync(fd)
    await pushVersion(b, {project: 'default', model: 'model-' + m, paths: [dir], author: 'bench@example.com', comment: 'version ' + v, tags: v === Number(perModel) - 1 ? ['prod'] : []})
  }
}
await b.close()
`

function seedStore(home, models, perModel, bytes) {
  const script = join(scratch, 'seed.mjs')
  writeFileSync(script, SEED_SCRIPT)
  const work = join(scratch, `seed-${randomBytes(3).toString('hex')}`)
  run(process.execPath, [script, ROOT, home, work, String(models), String(perModel), String(bytes)])
  rmSync(work, {recursive: true, force: true})
}

function dirBytes(dir) {
  return Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
}

async function move() {
  const versions = 100
  const perVersion = Math.floor(SIZES.file / versions)
  log(`move: export and import of a store holding ${fmtBytes(perVersion * versions)} in ${versions} versions and ${SIZES.points.toLocaleString('en')} metric points`)
  const home = freshHome('move')
  seedStore(home, 10, versions / 10, perVersion)
  const env = {MODELREG_HOME: home}
  const id = modelreg(['runs', 'start', '-e', 'bench'], env, {stdout: 'pipe'}).stdout.toString().trim()
  const points = join(scratch, 'move-points.ndjson')
  writePoints(points, SIZES.points)
  modelreg(['runs', 'log', id, '--file', points], env)
  modelreg(['runs', 'finish', id], env)
  rmSync(points, {force: true})
  const size = dirBytes(home)
  const archive = join(scratch, 'move.tar')
  const tarball = join(scratch, 'move-dir.tar')
  const reps = Math.min(SIZES.reps, 3)
  const exp = await pairs(
    reps,
    () => (rmSync(tarball, {force: true}), timed(() => run('tar', ['-cf', tarball, '-C', home, '.']))),
    () => (rmSync(archive, {force: true}), timed(() => modelreg(['export', '-o', archive], env))),
  )
  const archiveBytes = dirBytes(archive)
  timeCase(`export, ${fmtBytes(size)} store (${versions} versions, ${SIZES.points.toLocaleString('en')} points)`, 'tar -cf of the store directory', '<= 1.5x', 1.5, exp)
  results.at(-1).modelreg_text += `, archive ${fmtBytes(archiveBytes)}`
  const into = join(scratch, 'move-into')
  const imp = await pairs(
    reps,
    () => {
      rmSync(into, {recursive: true, force: true})
      mkdirSync(into, {recursive: true})
      return timed(() => run('tar', ['-xf', tarball, '-C', into]))
    },
    () => {
      rmSync(into, {recursive: true, force: true})
      return timed(() => modelreg(['import', archive], {MODELREG_HOME: into}))
    },
  )
  timeCase(`import of that archive into an empty store`, 'tar -xf of the store directory', '<= 1.5x', 1.5, imp)
  rmSync(into, {recursive: true, force: true})
  rmSync(archive, {force: true})
  rmSync(tarball, {force: true})
  if (!KEEP) rmSync(home, {recursive: true, force: true})

  // copy of an unchanged store: 1,000 versions (100 models of 10), local -> local and local -> server
  const models = 100
  const perModel = 10
  log(`move: copy of an unchanged store, ${(models * perModel).toLocaleString('en')} versions`)
  const src = freshHome('copy-src')
  seedStore(src, models, perModel, 1024)
  const dst = freshHome('copy-dst')
  const server = await startServer(join(scratch, 'server-copy'))
  try {
    const srcEnv = {MODELREG_HOME: src}
    modelreg(['copy', '--to', dst], srcEnv)
    modelreg(['copy', '--to', server.url, '--to-token', server.token], srcEnv)
    for (const [label, argv] of [
      ['local -> local', ['copy', '--to', dst, '--json']],
      ['local -> server', ['copy', '--to', server.url, '--to-token', server.token, '--json']],
    ]) {
      let report
      const m = await pairs(
        SIZES.reps,
        () => timed(() => modelreg(['--version'], srcEnv)),
        () => timed(() => (report = JSON.parse(modelreg(argv, srcEnv, {stdout: 'pipe'}).stdout))),
      )
      if (report.blobs.written !== 0 || report.models.written !== 0 || report.models.unchanged !== models) throw new Error(`copy of an unchanged store moved something: ${JSON.stringify(report)}`)
      record({
        case: `copy of an unchanged store, ${(models * perModel).toLocaleString('en')} versions, ${label}`,
        baseline_case: '2 s',
        modelreg: m.modelreg,
        baseline: 2,
        unit: 's',
        modelreg_text: `${fmtTime(m.modelreg)}, 0 blobs moved (modelreg --version: ${fmtTime(m.baseline)})`,
        baseline_text: '2 s',
        ratio: m.modelreg / 2,
        goal: '<= 2 s, 0 blobs',
        ok: m.modelreg <= 2,
      })
    }
  } finally {
    await server.stop()
  }
}

// ---------------------------------------------------------------------------------------------

function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown CPU'
  return {cpu, cores: cpus().length, memory_gib: Math.round(totalmem() / GB), free_memory_gib: Math.round(freemem() / GB), node: process.version, platform: `${process.platform}-${process.arch}`}
}

function table() {
  const out = new Table({head: ['case', 'modelreg', 'baseline', 'ratio', 'goal', ''], style: {head: [], border: []}, colWidths: [44, 30, 34, 8, 14, 9], wordWrap: true})
  for (const r of results) out.push([r.case, r.modelreg_text, r.baseline_text, `${r.ratio.toFixed(2)}x`, r.goal, r.ok === null ? '' : r.ok ? 'met' : 'NOT met'])
  return out.toString()
}

/** The same, as a Markdown table for docs/performance.md. */
function markdown() {
  const rows = results.map((r) => `| ${r.case} | ${r.modelreg_text} | ${r.baseline_text} | ${r.ratio.toFixed(2)}x | ${r.goal} | ${r.ok === null ? '' : r.ok ? 'met' : '**not met**'} |`)
  return ['| case | modelreg | baseline (same run) | ratio | goal | |', '|---|---|---|---|---|---|', ...rows].join('\n')
}

const CASES = {startup, local: localTransfers, remote: remoteTransfers, metrics: metricIngest, scale, reads: serverReads, memory, move}
/**
 * Cases in the full run whose seeding alone outlasts a --quick run (move pushes 1,100 versions,
 * one by one, as users make them): a --quick run leaves them out unless named.
 */
const SLOW = new Set(['move'])
/**
 * Cases that need more than this checkout (the test services, the Python venv, Chromium): in the
 * full run and with --only; a --quick run leaves them out unless named (the smoke test lists its cases).
 */
const EXTRA = {pgscale: pgScale, pgreads: pgReads, python: pythonClient, ui: uiPages}

try {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('build first: npm run build (npm install does it)')
  const info = machine()
  log(`modelreg bench${QUICK ? ' (quick)' : ''} on ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB, node ${info.node}; scratch ${scratch}`)
  let file
  for (const [id, fn] of Object.entries({...CASES, ...EXTRA})) {
    if (ONLY ? !ONLY.includes(id) : QUICK && (id in EXTRA || SLOW.has(id))) continue
    if ((id === 'remote' || id === 'pgscale' || id === 'memory') && !file && (id !== 'memory' || SIZES.memFile === SIZES.file)) file = bigFile(join(scratch, 'one.bin'), SIZES.file)
    const result = await fn(file)
    if (id === 'local') file = result
  }
  const report = {quick: QUICK, machine: info, date: new Date().toISOString(), results}
  if (SAVE) writeFileSync(SAVE, `${JSON.stringify(report, null, 2)}\n`)
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
  else if (MARKDOWN) process.stdout.write(`${markdown()}\n\nMachine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB RAM, node ${info.node}, ${info.platform}\n`)
  else process.stdout.write(`\n${table()}\n\nMachine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB RAM, node ${info.node}, ${info.platform}${QUICK ? ' (quick run: small sizes)' : ''}\n`)
} finally {
  if (KEEP) log(`kept ${scratch}`)
  else rmSync(scratch, {recursive: true, force: true})
}
