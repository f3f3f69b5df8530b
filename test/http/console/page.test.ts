import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { consolePage, escapeHtml, loginPage } from '../../../src/http/console/page.js';

describe('escapeHtml', () => {
  it('escapes what could end a text node or an attribute', () => {
    expect(escapeHtml('<img/src=x/onerror=alert(1)>"\'&')).toBe('&lt;img/src=x/onerror=alert(1)&gt;&quot;&#39;&amp;');
  });
});

describe('consolePage', () => {
  it('renders the CSRF token escaped, as a meta tag the script reads', () => {
    const html = consolePage({ csrf: '"><script>x</script>', loggedIn: true });
    expect(html).toContain('<meta name="intentdns-csrf" content="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">');
    expect(html).not.toContain('<script>x');
  });

  it('has a logout button only with a token to log out of', () => {
    expect(consolePage({ csrf: 'c', loggedIn: true })).toContain('id="logout"');
    expect(consolePage({ csrf: 'c', loggedIn: false })).not.toContain('id="logout"');
  });

  it('offers every action and reason in the filters', () => {
    const html = consolePage({ csrf: 'c', loggedIn: true });
    for (const v of ['forward', 'sinkhole', 'hold', 'refuse', 'drop', 'unlisted', 'quarantine', 'rate_limit']) expect(html).toContain(`<option value="${v}">`);
  });
});

describe('loginPage', () => {
  it('says a wrong token was wrong, and posts to /ui/login', () => {
    expect(loginPage(true)).toContain('That is not the admin token.');
    expect(loginPage(false)).not.toContain('That is not');
    expect(loginPage(false)).toContain('action="/ui/login"');
  });
});

describe('console/ui/console.js', () => {
  const script = readFileSync(new URL('../../../src/http/console/ui/console.js', import.meta.url), 'utf8');

  it('never writes markup: no innerHTML, outerHTML, insertAdjacentHTML or document.write', () => {
    // The comment at the top names innerHTML to say it is not used; look at the code only.
    const code = script.split('\n').filter((l) => !l.trim().startsWith('//')).join('\n');
    expect(code).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
  });

  it('keeps at most 500 rows', () => {
    expect(script).toMatch(/const MAX_ROWS = 500;/);
  });
});
