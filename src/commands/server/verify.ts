import type {Backend} from '../../backends/backend.js'
import {openServerEngine, serverLocationFlags} from '../../cli/server-flags.js'
import Verify from '../verify.js'

export default class ServerVerify extends Verify {
  static override summary = "Check a server's store directly, with the server's config: its database (SQLite or PostgreSQL) and every referenced blob (directory or S3)."
  static override description = `For operators, on a machine that can reach the server's database and bucket (the server need not run; replicas may). Reports like verify: exit 0 when nothing is wrong, 6 when something is.`

  static override examples = [
    '<%= config.bin %> server verify --config /etc/modelreg/server.yaml',
    'MODELREG_DATABASE_URL=postgres://modelreg@db/modelreg MODELREG_BLOBS_URL=s3://models/prod <%= config.bin %> server verify credit-risk:prod',
  ]

  static override flags = {...serverLocationFlags}

  protected override async backend(): Promise<Backend> {
    this.openedBackend ??= await openServerEngine(this.flags as {config?: string; 'data-dir'?: string})
    return this.openedBackend
  }
}
