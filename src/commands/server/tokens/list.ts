import {BaseCommand} from '../../../cli/base-command.js'
import {tableFlags} from '../../../cli/flags.js'
import {formatTime} from '../../../cli/output.js'
import {openTokenStore} from '../../../server/stores.js'
import type {TokenInfo} from '../../../server/tokens.js'
import {serverConfigFrom, serverLocationFlags} from '../../../cli/server-flags.js'

export default class ServerTokensList extends BaseCommand<typeof ServerTokensList> {
  static override summary = "List the server's tokens (names, scopes, prefixes; never the tokens)."
  static override examples = ['<%= config.bin %> server tokens list --data-dir /srv/modelreg']

  static override flags = {...serverLocationFlags, ...tableFlags}

  async run(): Promise<{tokens: TokenInfo[]}> {
    const store = await openTokenStore(serverConfigFrom(this.flags))
    try {
      const tokens = await store.list()
      if (tokens.length === 0) this.note('No tokens yet.')
      this.table(
        [
          'ID',
          {header: 'NAME', truncate: true},
          'SCOPE',
          {header: 'PROJECT', truncate: true, priority: 2},
          {header: 'PREFIX', priority: 3},
          {header: 'CREATED', priority: 4},
          {header: 'LAST USED', priority: 3},
          {header: 'REVOKED', priority: 2},
        ],
        tokens.map((t) => [t.id, t.name, t.scope, t.project ?? '*', t.prefix, formatTime(t.created_at), formatTime(t.last_used_at), formatTime(t.revoked_at)]),
      )
      return {tokens}
    } finally {
      await store.close()
    }
  }
}
