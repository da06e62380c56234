import type {Backend} from '../../backends/backend.js'
import {serverConfigFrom, serverLocationFlags} from '../../cli/server-flags.js'
import Gc from '../gc.js'

export default class ServerGc extends Gc {
  static override summary = "Reclaim space in a server's store directly, with the server's config: blobs nothing references, unfinished uploads."
  static override description = `For operators, on a machine that can reach the server's database and bucket. Safe while the server (or any number of replicas) runs: blobs used within --grace are kept, and a push that names a blob being removed fails cleanly and uploads it again.`

  static override examples = ['<%= config.bin %> server gc --config /etc/modelreg/server.yaml --dry-run', '<%= config.bin %> server gc --config /etc/modelreg/server.yaml --grace 24h']

  static override flags = {...Gc.flags, ...serverLocationFlags}

  protected override async backend(): Promise<Backend> {
    if (!this.openedBackend) {
      const {openServerStores} = await import('../../server/stores.js')
      const {engine, tokens} = await openServerStores(serverConfigFrom(this.flags as {config?: string; 'data-dir'?: string}), {migrate: false})
      await tokens.close()
      this.openedBackend = engine
    }
    return this.openedBackend
  }
}
