/**
 * The console's HTML, rendered here and nowhere else. Every value that goes
 * into it passes through escapeHtml(); the page holds no data of its own
 * (the script fetches it and writes it with textContent), only the CSRF
 * token and the fixed lists of actions and reasons for the filters.
 */
import { ACTIONS, REASONS } from '../../pipeline/types.js';
import { UNCOVERED_REASONS } from '../../suggest/index.js';

/** Text for an HTML text node or a double-quoted attribute. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Nothing but our own files: no inline script or style (an injected
 * `<script>` or `onerror=` does not run even if escaping ever failed), no
 * other host to fetch from or post to, and no framing (clickjacking on the
 * quarantine buttons).
 */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
  + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
};

function layout(title: string, body: string, extraHead = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/ui/console.css">
${extraHead}</head>
<body>
${body}
</body>
</html>
`;
}

/** The login form; `failed` after a wrong token. */
export function loginPage(failed: boolean): string {
  return layout('intentdns · log in', `<main class="login">
<form method="post" action="/ui/login" class="panel">
<h1>intentdns console</h1>
<p>Paste the admin token (the content of <code>admin.token_file</code>).</p>
${failed ? '<p class="error" role="alert">That is not the admin token.</p>\n' : ''}<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>
</main>`);
}

export interface ConsolePageOptions {
  /** Rendered into a meta tag; the script sends it back in X-CSRF-Token. */
  readonly csrf: string;
  /** Whether a token guards the console: then there is a session to log out of. */
  readonly loggedIn: boolean;
}

const options = (values: readonly string[]): string =>
  ['<option value="">any</option>', ...values.map((v) => `<option value="${escapeHtml(v)}">${escapeHtml(v)}</option>`)].join('');

/** The console itself: the panels' frames, filled and kept current by /ui/console.js. */
export function consolePage(opts: ConsolePageOptions): string {
  // Which blocks an allow entry would lift (suggest's own list): the script offers an allow line for those rows only.
  const head = `<meta name="intentdns-csrf" content="${escapeHtml(opts.csrf)}">
<meta name="intentdns-uncovered" content="${escapeHtml([...UNCOVERED_REASONS].join(' '))}">
<script src="/ui/console.js" defer></script>
`;
  return layout('intentdns console', `<header class="bar">
<h1>intentdns <span>console</span></h1>
<span id="stream-state" class="pill">connecting…</span>
${opts.loggedIn ? '<button id="logout" type="button" class="quiet">Log out</button>' : '<span class="pill open" title="no admin.token_file: anyone who reaches listen.http is let in">open: no admin token</span>'}
</header>
<main class="grid">
<section id="decisions" class="panel live">
<h2>Live decisions <small id="row-count"></small></h2>
<div class="filters">
<label>Agent <input id="f-agent" type="text" autocomplete="off"></label>
<label>Role <input id="f-role" type="text" autocomplete="off"></label>
<label>Action <select id="f-action">${options(ACTIONS)}</select></label>
<label>Reason <select id="f-reason">${options(REASONS)}</select></label>
<label class="grow">Name <input id="f-name" type="search" placeholder="part of a name" autocomplete="off"></label>
<button id="pause" type="button" class="quiet" aria-pressed="false">Pause</button>
</div>
<div class="scroll">
<table>
<thead><tr><th>Time</th><th>Agent</th><th>Role</th><th>Name</th><th>Type</th><th>Action</th><th>Reason</th><th>Rule or grant</th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="rows-empty" class="empty">Waiting for decisions…</p>
</div>
</section>
<section id="top-blocked" class="panel">
<h2>Top blocked names <small>last hour</small></h2>
<table><thead><tr><th class="wrap">Name, and the allow line <code>intentdns suggest</code> writes for it</th><th class="num">Queries</th></tr></thead><tbody></tbody></table>
<p class="empty">Nothing blocked in the last hour.</p>
</section>
<section id="top-agents" class="panel">
<h2>Top agents <small>last hour</small></h2>
<table><thead><tr><th>Agent</th><th class="num">Queries</th></tr></thead><tbody></tbody></table>
<p class="empty">No queries in the last hour.</p>
</section>
<section id="holds" class="panel">
<h2>Pending holds</h2>
<table><thead><tr><th>Agent</th><th>Name</th><th>Type</th><th>State</th><th>Since</th></tr></thead><tbody></tbody></table>
<p class="empty">No holds waiting.</p>
</section>
<section id="grants" class="panel">
<h2>Active grants</h2>
<table><thead><tr><th>Agent</th><th>Name</th><th>Command</th><th>Reviewer</th><th>Until</th></tr></thead><tbody></tbody></table>
<p class="empty">No grants.</p>
</section>
<section id="quarantine" class="panel">
<h2>Quarantine</h2>
<table><thead><tr><th>Agent</th><th>State</th><th></th></tr></thead><tbody></tbody></table>
<form id="quarantine-add" class="inline"><input id="quarantine-agent" type="text" placeholder="agent name" autocomplete="off" required><button type="submit">Quarantine</button></form>
<p id="quarantine-error" class="error" role="alert" hidden></p>
</section>
</main>`, head);
}
