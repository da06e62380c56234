/**
 * The CLI bundle's entry (scripts/build-cli.mjs): oclif's `execute`, bundled with oclif and the
 * commands into a few files so that start-up does not resolve and compile a hundred modules.
 */
export {execute} from '@oclif/core/execute'
