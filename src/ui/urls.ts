/** The web UI's page paths, shared by the pages and by commands that print a page's URL (`--url`). */
import {invalid} from '../backends/errors.js'

const seg = (s: string | number) => encodeURIComponent(String(s))

export const pagePaths = {
  project: (project: string) => `/projects/${seg(project)}`,
  model: (project: string, model: string) => `/projects/${seg(project)}/models/${seg(model)}`,
  version: (project: string, model: string, version: number | string) => `/projects/${seg(project)}/models/${seg(model)}/versions/${seg(version)}`,
  run: (run: string) => `/runs/${seg(run)}`,
}

/** A page's full URL on the server the client talks to; a local store has no pages to link (use `modelreg ui`). */
export function pageUrl(settings: {backend: 'local' | 'remote'; url: string | null}, path: string): string {
  if (settings.backend !== 'remote' || !settings.url) {
    throw invalid('--url needs a server (MODELREG_URL or a profile url); for the local store, run modelreg ui')
  }
  return `${settings.url.replace(/\/+$/, '')}${path}`
}
