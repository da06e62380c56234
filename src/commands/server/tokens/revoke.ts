import * as Args from '@oclif/core/args'
import {BaseCommand} from '../../../cli/base-command.js'
import {openTokenStore} from '../../../server/stores.js'
import type {TokenInfo} from '../../../server/tokens.js'
import {serverConfigFrom, serverLocationFlags} from '../../../cli/server-flags.js'

export default class ServerTokensRevoke extends BaseCommand<typeof ServerTokensRevoke> {
  static override summary = 'Revoke a token: it stops working at once, also on a running server.'
  static override examples = ['<%= config.bin %> server tokens revoke ci --data-dir /srv/modelreg', '<%= config.bin %> server tokens revoke 3']

  static override args = {
    token: Args.string({required: true, description: 'The token name or id.'}),
  }

  static override flags = {...serverLocationFlags}

  async run(): Promise<TokenInfo> {
    const store = await openTokenStore(serverConfigFrom(this.flags))
    try {
      const info = await store.revoke(this.args.token)
      this.say(`Revoked token ${info.name}.`)
      return info
    } finally {
      await store.close()
    }
  }
}
