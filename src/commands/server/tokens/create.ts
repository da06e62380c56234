import * as Flags from '@oclif/core/flags'
import {BaseCommand} from '../../../cli/base-command.js'
import {openTokenStore} from '../../../server/stores.js'
import {SCOPES, type TokenInfo} from '../../../server/tokens.js'
import {serverConfigFrom, serverLocationFlags} from '../../../cli/server-flags.js'

export default class ServerTokensCreate extends BaseCommand<typeof ServerTokensCreate> {
  static override summary = 'Create an API token for the server; it is printed once and only its hash is kept.'
  static override description =
    'Scopes: read (list, show, download), write (also create, push, tag, untag, update), admin (also delete, and server-wide operations). With --project the token can touch that project only. Run on the server machine, against its data directory.'

  static override examples = [
    '<%= config.bin %> server tokens create --name ci --scope write --data-dir /srv/modelreg',
    '<%= config.bin %> server tokens create --name dashboards --scope read --project credit --json | jq -r .token',
  ]

  static override flags = {
    ...serverLocationFlags,
    name: Flags.string({required: true, description: 'A name for the token, shown in logs and events.'}),
    scope: Flags.string({required: true, options: [...SCOPES], description: 'What the token may do.'}),
    project: Flags.string({description: 'Limit the token to one project.'}),
  }

  async run(): Promise<TokenInfo & {token: string}> {
    const config = serverConfigFrom(this.flags)
    const store = await openTokenStore(config)
    try {
      const {token, info} = await store.create(this.flags.name, this.flags.scope, this.flags.project ?? null)
      this.say(`Created token ${info.name} (scope ${info.scope}, ${info.project ? `project ${info.project}` : 'all projects'}).`)
      this.say('Copy it now: it is not stored and will not be shown again.')
      this.say(token)
      return {...info, token}
    } finally {
      await store.close()
    }
  }
}
