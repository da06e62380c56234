/** The login form (auth on, no valid cookie) and the error pages. */
import {ERROR_CODES, type RegistryError} from '../../backends/errors.js'
import {html} from '../html.js'
import type {PageShell} from '../layout.js'

export function loginShell(next: string, message: string | null, hint: string | null = null): PageShell {
  return {
    id: 'login',
    title: 'Sign in',
    body: html`<h1>Sign in</h1>
${
  hint
    ? html`<p id="mr-login-hint">${hint}</p>`
    : html`<p>This registry needs a token. Paste one made with <code>modelreg server tokens create</code>; it is kept in an HttpOnly cookie for this browser session.</p>`
}
${message ? html`<div class="mr-error" role="alert" id="mr-login-error">${message}</div>` : ''}
${hint ? '' : html`<form class="mr-login" method="post" action="/login" id="mr-login-form">
<input type="hidden" name="next" value="${next}">
<label for="mr-token">Token</label>
<input type="password" id="mr-token" name="token" autocomplete="current-password" required spellcheck="false" autofocus>
<button type="submit">Sign in</button>
</form>`}`,
  }
}

export function signedInShell(next: string): PageShell {
  return {
    id: 'signed-in',
    title: 'Signed in',
    refresh: next,
    body: html`<h1>Signed in</h1>
<p>This link is now spent. <a href="${next}" id="mr-continue">Continue</a></p>`,
  }
}

const TITLES: Record<number, string> = {400: 'Bad request', 403: 'Not allowed', 404: 'Not found', 405: 'Method not allowed', 500: 'Something went wrong', 503: 'Unavailable'}

export function errorShell(error: RegistryError): {status: number; shell: PageShell} {
  const status = ERROR_CODES[error.code].http
  const title = TITLES[status] ?? `Error ${status}`
  return {
    status,
    shell: {
      id: status === 404 ? 'not-found' : 'error',
      title,
      body: html`<h1>${title}</h1>
<div class="mr-error" role="alert" id="mr-error" data-code="${error.code}">${error.message}</div>
<p><a href="/">Back to the projects</a></p>`,
    },
  }
}
