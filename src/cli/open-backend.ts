/** Open the backend the configuration names. Heavy modules load here, not at start-up. */
import type {Backend} from '../backends/backend.js'
import type {ResolvedConfig} from '../config/config.js'
import {resolveAuthor} from '../registry/provenance.js'

export async function openBackend(config: ResolvedConfig, userAgent = 'modelreg'): Promise<Backend> {
  const actor = () => resolveAuthor(config.author)
  if (config.backend === 'remote') {
    const {RemoteBackend} = await import('../backends/remote/remote-backend.js')
    return new RemoteBackend({url: config.url as string, token: config.token, actor, userAgent})
  }
  const {LocalBackend} = await import('../backends/local/local-backend.js')
  return new LocalBackend({home: config.home, actor})
}
