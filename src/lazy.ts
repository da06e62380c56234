/**
 * Modules that only some commands need, loaded when first used rather than at start-up: every
 * command pays for what it imports at the top, and start-up time is a goal (npm run bench).
 */
import {createRequire} from 'node:module'

const require = createRequire(import.meta.url)

export const loadYaml = (): typeof import('yaml') => require('yaml')
export const loadTar = (): Promise<typeof import('tar')> => import('tar')
