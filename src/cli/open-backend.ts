/** Open the backend the configuration names. Heavy modules load here, not at start-up. */
import type {Backend} from '../backends/backend.js'
import {RegistryError} from '../backends/errors.js'
import type {ResolvedConfig} from '../config/config.js'
import {resolveAuthor} from '../registry/provenance.js'

export async function openBackend(config: ResolvedConfig): Promise<Backend> {
  if (config.backend === 'remote') {
    throw new RegistryError('invalid_argument', `the remote backend (${config.url}) is not available in this build; use the local backend`)
  }
  const {LocalBackend} = await import('../backends/local/local-backend.js')
  return new LocalBackend({home: config.home, actor: await resolveAuthor(config.author)})
}
