/**
 * oclif's help, with one section added at the end: DOCS, the page and section of the
 * repository's docs that describe the command or topic (see docs-pages.ts). Configured as the
 * help class in package.json, so `--help`, `help COMMAND` and the root help all show it.
 */
import {Help} from '@oclif/core/help'
import type {Command, Interfaces} from '@oclif/core'
import {commandDocs, DOCS_INDEX, topicDocs} from './docs-pages.js'

export default class ModelregHelp extends Help {
  override async showCommandHelp(command: Command.Loadable): Promise<void> {
    // Before oclif rewrites the id for display (models:push -> models push).
    const docs = commandDocs(command, this.config.commands)
    await super.showCommandHelp(command)
    this.log(this.section('DOCS', docs))
  }

  protected override async showTopicHelp(topic: Interfaces.Topic): Promise<void> {
    const docs = topicDocs(topic.name)
    await super.showTopicHelp(topic)
    this.log(this.section('DOCS', docs))
  }

  protected override async showRootHelp(): Promise<void> {
    await super.showRootHelp()
    this.log(this.section('DOCS', `${DOCS_INDEX} (a map of docs/*.md); every command: docs/commands.md`))
  }
}
