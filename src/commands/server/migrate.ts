import {BaseCommand} from '../../cli/base-command.js'
import {serverConfigFrom, serverLocationFlags} from '../../cli/server-flags.js'

export default class ServerMigrate extends BaseCommand<typeof ServerMigrate> {
  static override summary = "Bring a server's PostgreSQL database to this modelreg's schema (numbered migrations, once, under a lock)."
  static override description = `server start does this by itself unless given --no-migrate; run it separately to control when a schema change happens, then start the replicas with --no-migrate. Two runs at once are safe: the second waits and finds nothing to do. A SQLite store migrates when it is opened.`

  static override examples = ['<%= config.bin %> server migrate --config /etc/modelreg/server.yaml', 'MODELREG_DATABASE_URL=postgres://modelreg@db/modelreg <%= config.bin %> server migrate --json']

  static override flags = {...serverLocationFlags}

  async run(): Promise<{database: string; applied: number[]}> {
    const {migrateServerDatabase} = await import('../../server/stores.js')
    const result = await migrateServerDatabase(serverConfigFrom(this.flags))
    this.say(result.applied.length ? `Applied migration${result.applied.length === 1 ? '' : 's'} ${result.applied.join(', ')} to ${result.database}.` : `${result.database}: up to date.`)
    return result
  }
}
