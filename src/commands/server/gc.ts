import type {Backend} from '../../backends/backend.js'
import {openServerEngine, serverLocationFlags} from '../../cli/server-flags.js'
import Gc from '../gc.js'

export default class ServerGc extends Gc {
  static override summary = "Reclaim space in a server's store directly, with the server's config: blobs nothing references, unfinished uploads."
  static override description = `For operators, on a machine that can reach the server's database and bucket. Safe while the server (or any number of replicas) runs: blobs used within --grace are kept, and a push that names a blob being removed fails cleanly and uploads it again.`

  static override examples = ['<%= config.bin %> server gc --config /etc/modelreg/server.yaml --dry-run', '<%= config.bin %> server gc --config /etc/modelreg/server.yaml --grace 24h']

  static override flags = {...Gc.flags, ...serverLocationFlags}

  protected override async backend(): Promise<Backend> {
    this.openedBackend ??= await openServerEngine(this.flags as {config?: string; 'data-dir'?: string})
    return this.openedBackend
  }
}
