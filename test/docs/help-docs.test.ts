/**
 * `--help` of each command points at its docs: a DOCS section naming the section of
 * docs/commands.md that describes it (aliases give their command's), topics their group, the
 * root help the README's map; `help --json` carries the same as `docs`. Every target exists.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {commandDocs, DOCS_INDEX, topicDocs} from '../../src/cli/docs-pages.js'
import {makeCliEnv, ROOT, runCli} from '../helpers/cli.js'
import {anchors, readDoc} from './markdown.js'

interface ManifestCommand {
  id: string
  aliases: string[]
  hidden?: boolean
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestCommand>}
const commands = Object.values(manifest.commands).filter((c) => !c.hidden)
const topics = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).oclif.topics as Record<string, unknown>)

/** A docs target (path#anchor, relative to the checkout) that does not exist, or null. */
function missing(target: string): string | null {
  const [path, fragment] = target.split('#')
  let text: string
  try {
    text = readDoc(path)
  } catch {
    return `${target}: no file ${path}`
  }
  return fragment === undefined || anchors(text).has(fragment) ? null : `${target}: no heading #${fragment} in ${path}`
}

describe('docs: --help points at each command’s docs', () => {
  it('every command, alias and topic has a section that exists', () => {
    expect(commands.length).toBeGreaterThan(40)
    const problems: string[] = []
    for (const command of commands) {
      const docs = commandDocs(command, commands)
      expect(docs, command.id).toBe(`docs/commands.md#${command.id.replaceAll(':', '-')}`)
      const problem = missing(docs)
      if (problem) problems.push(`${command.id}: ${problem}`)
      for (const alias of command.aliases) {
        expect(commandDocs({id: alias, aliases: [alias, ...command.aliases.filter((a) => a !== alias)]}, commands), alias).toBe(docs)
      }
    }
    for (const topic of topics) {
      const problem = missing(topicDocs(topic))
      if (problem) problems.push(`topic ${topic}: ${problem}`)
    }
    expect(missing(DOCS_INDEX)).toBeNull()
    expect(problems).toEqual([])
  })

  it('shows a DOCS section in --help, help COMMAND, for aliases, topics and the root; help --json has it as docs', async () => {
    const ctx = makeCliEnv()
    const section = (docs: string) => `\nDOCS\n  ${docs}\n`
    const push = await runCli(ctx, ['models', 'push', '--help'])
    expect(push.code).toBe(0)
    expect(push.stdout).toContain(section('docs/commands.md#models-push'))
    expect((await runCli(ctx, ['help', 'models', 'push'])).stdout).toBe(push.stdout)
    expect((await runCli(ctx, ['model', 'push', '--help'])).stdout).toContain(section('docs/commands.md#models-push'))
    expect((await runCli(ctx, ['server', 'tokens', 'create', '--help'])).stdout).toContain(section('docs/commands.md#server-tokens-create'))
    expect((await runCli(ctx, ['server', '--help'])).stdout).toContain(section('docs/commands.md#the-server'))
    expect((await runCli(ctx, ['--help'])).stdout).toContain('\nDOCS\n  README.md#documentation')
    const one = await runCli(ctx, ['help', 'runs', 'log', '--json'])
    expect(one.json()).toMatchObject({id: 'runs log', docs: 'docs/commands.md#runs-log'})
    const all = (await runCli(ctx, ['help', '--json'])).json<{commands: {id: string; docs: string}[]}>()
    expect(all.commands.find((c) => c.id === 'import mlflow')?.docs).toBe('docs/commands.md#import-mlflow')
    expect(all.commands.every((c) => missing(c.docs) === null)).toBe(true)
  })
})
