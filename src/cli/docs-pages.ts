/**
 * Where the reference for each command and topic lives in the repository's docs, for `--help`
 * and `help --json`. Every command has a section of docs/commands.md named after it
 * (`models push` -> docs/commands.md#models-push); topics that are not commands point at their
 * group there. test/docs/help-docs.test.ts checks every target exists.
 */

export const DOCS_INDEX = 'README.md#documentation'

const COMMANDS_PAGE = 'docs/commands.md'

/** Topics without a command of their own: the group of docs/commands.md they belong to. */
const TOPIC_GROUPS: Record<string, string> = {
  model: 'models-and-versions',
  models: 'models-and-versions',
  projects: 'projects-and-events',
  experiments: 'experiments-runs-and-checkpoints',
  runs: 'experiments-runs-and-checkpoints',
  checkpoints: 'experiments-runs-and-checkpoints',
  config: 'client-configuration',
  server: 'the-server',
  'server:tokens': 'the-server',
  import: 'browsing-and-moving-data',
}

interface CommandIds {
  id: string
  aliases: string[]
}

/** The command an alias stands for (oclif lists each alias as a command naming itself among its aliases). */
function canonicalId(command: CommandIds, commands: readonly CommandIds[]): string {
  const id = command.id.replaceAll(' ', ':')
  if (!command.aliases.map((a) => a.replaceAll(' ', ':')).includes(id)) return id
  return commands.find((c) => c.id !== id && !c.aliases.includes(c.id) && c.aliases.includes(id))?.id ?? id
}

/** The docs section of a command (ids with ':' or ' '; an alias gives its command's section). */
export function commandDocs(command: CommandIds, commands: readonly CommandIds[]): string {
  return `${COMMANDS_PAGE}#${canonicalId(command, commands).replaceAll(':', '-')}`
}

/** The docs section of a topic (`server`, `server:tokens`). */
export function topicDocs(topic: string): string {
  const group = TOPIC_GROUPS[topic.replaceAll(' ', ':')]
  return group ? `${COMMANDS_PAGE}#${group}` : COMMANDS_PAGE
}
