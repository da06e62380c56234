import * as Args from '@oclif/core/args'
import * as Flags from '@oclif/core/flags'
import type {Project} from '../../backends/backend.js'
import {BaseCommand} from '../../cli/base-command.js'

export default class ProjectsCreate extends BaseCommand<typeof ProjectsCreate> {
  static override summary = 'Create a project (a namespace for models and experiments).'
  static override description = 'Projects are also created on first use; create one explicitly to give it a description.'
  static override aliases = ['project:create']
  static override examples = ['<%= config.bin %> projects create churn --description "churn prediction"']

  static override args = {
    name: Args.string({required: true, description: 'Project name.'}),
  }

  static override flags = {
    description: Flags.string({char: 'd', description: 'What the project is for.'}),
  }

  async run(): Promise<Project> {
    const backend = await this.backend()
    const project = await backend.createProject(this.args.name, {description: this.flags.description})
    this.say(`Created project ${project.name}.`)
    return project
  }
}
