/**
 * What a push records about where it came from: who (author), the host, the git commit when run
 * inside a work tree, and the CI job when the environment shows one.
 */
import {execFile, execFileSync} from 'node:child_process'
import {hostname, userInfo} from 'node:os'
import type {CiSource, GitSource, SourceInfo} from '../backends/backend.js'

function git(args: string[], cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', args, {cwd, timeout: 5000, windowsHide: true, maxBuffer: 1024 * 1024}, (error, stdout) => {
      resolve(error ? null : stdout.trim())
    })
  })
}

/** Remove credentials from a remote URL (https://user:token@host/... keeps only the host and path). */
export function scrubRemote(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.username || parsed.password) {
      parsed.username = ''
      parsed.password = ''
    }
    return parsed.toString()
  } catch {
    return url // scp-like git@host:path has no secret in it
  }
}

export async function gitSource(cwd: string): Promise<GitSource | null> {
  const commit = await git(['rev-parse', '--verify', '--quiet', 'HEAD'], cwd)
  if (!commit) return null
  const [branch, status, remote] = await Promise.all([
    git(['symbolic-ref', '--quiet', '--short', 'HEAD'], cwd),
    git(['status', '--porcelain', '--untracked-files=no'], cwd),
    git(['config', '--get', 'remote.origin.url'], cwd),
  ])
  return {commit, branch: branch || null, dirty: Boolean(status), remote: remote ? scrubRemote(remote) : null}
}

export function ciSource(env: NodeJS.ProcessEnv = process.env): CiSource | null {
  const v = (name: string) => (env[name] && env[name] !== '' ? (env[name] as string) : null)
  if (v('GITHUB_ACTIONS')) {
    const server = v('GITHUB_SERVER_URL') ?? 'https://github.com'
    const repo = v('GITHUB_REPOSITORY')
    const run = v('GITHUB_RUN_ID')
    return {provider: 'github-actions', job: v('GITHUB_JOB') ?? v('GITHUB_WORKFLOW'), run_id: run, url: repo && run ? `${server}/${repo}/actions/runs/${run}` : null}
  }
  if (v('GITLAB_CI')) return {provider: 'gitlab-ci', job: v('CI_JOB_NAME'), run_id: v('CI_JOB_ID'), url: v('CI_JOB_URL')}
  if (v('BUILDKITE')) return {provider: 'buildkite', job: v('BUILDKITE_LABEL'), run_id: v('BUILDKITE_BUILD_NUMBER'), url: v('BUILDKITE_BUILD_URL')}
  if (v('CIRCLECI')) return {provider: 'circleci', job: v('CIRCLE_JOB'), run_id: v('CIRCLE_BUILD_NUM'), url: v('CIRCLE_BUILD_URL')}
  if (v('JENKINS_URL')) return {provider: 'jenkins', job: v('JOB_NAME'), run_id: v('BUILD_NUMBER'), url: v('BUILD_URL')}
  if (v('TF_BUILD')) return {provider: 'azure-pipelines', job: v('SYSTEM_JOBDISPLAYNAME') ?? v('AGENT_JOBNAME'), run_id: v('BUILD_BUILDID'), url: null}
  if (v('BITBUCKET_BUILD_NUMBER')) return {provider: 'bitbucket-pipelines', job: v('BITBUCKET_STEP_UUID'), run_id: v('BITBUCKET_BUILD_NUMBER'), url: null}
  if (v('TRAVIS')) return {provider: 'travis-ci', job: v('TRAVIS_JOB_NAME'), run_id: v('TRAVIS_JOB_ID'), url: v('TRAVIS_JOB_WEB_URL')}
  const ci = v('CI')
  if (ci && ci !== 'false' && ci !== '0') return {provider: 'unknown', job: null, run_id: null, url: null}
  return null
}

const authors = new Map<string, {author: string; source: 'git' | 'system'}>()

/**
 * MODELREG_AUTHOR (or the configured author), else git user.email, else the OS user; asked of
 * git once per directory. Synchronous, so that the backends can ask on their first change only
 * and a read-only command never starts git.
 */
export function resolveAuthor(configured: string | null, cwd: string = process.cwd()): string {
  return configured || unconfiguredAuthor(cwd).author
}

/** The author a change records when none is configured, and where it comes from (config show). */
export function unconfiguredAuthor(cwd: string = process.cwd()): {author: string; source: 'git' | 'system'} {
  let found = authors.get(cwd)
  if (found === undefined) {
    let email = ''
    try {
      email = execFileSync('git', ['config', '--get', 'user.email'], {cwd, timeout: 5000, windowsHide: true, stdio: ['ignore', 'pipe', 'ignore']}).toString().trim()
    } catch {
      email = ''
    }
    found = email ? {author: email, source: 'git'} : {author: osUser(), source: 'system'}
    authors.set(cwd, found)
  }
  return found
}

function osUser(): string {
  try {
    return userInfo().username
  } catch {
    return 'unknown'
  }
}

export async function collectSource(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): Promise<SourceInfo> {
  let host: string | null = null
  try {
    host = hostname()
  } catch {
    host = null
  }
  return {host, git: await gitSource(cwd), ci: ciSource(env)}
}
