// The intentdns console's script: served by intentdns itself at /ui/console.js,
// hand-written, no build step, nothing fetched from anywhere but this origin.
//
// Rules it keeps, because query names and agent names come from agents and
// may be hostile: every value reaches the page through textContent (never
// innerHTML), and no URL is built from data except through
// encodeURIComponent. State-changing requests carry the CSRF token the
// server rendered into the page.
'use strict';

(function () {
  /** Rows kept in the table; older ones are dropped (the page must not grow without bound). */
  const MAX_ROWS = 500;
  /** How often the panels other than the live table are fetched again. */
  const REFRESH_MS = 5000;

  const csrf = document.querySelector('meta[name="intentdns-csrf"]').getAttribute('content');
  /** Reasons an allow entry would lift (the role did not cover the name): those blocked rows offer their allow line. */
  const uncovered = new Set(document.querySelector('meta[name="intentdns-uncovered"]').getAttribute('content').split(' '));
  const $ = (id) => document.getElementById(id);

  /** An element with text content (and an optional class), the only way data gets into the page. */
  function el(tag, content, className) {
    const node = document.createElement(tag);
    if (content !== undefined && content !== null) node.textContent = String(content);
    if (className) node.className = className;
    return node;
  }

  function row(cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) tr.appendChild(cell instanceof Node ? cell : el('td', cell));
    return tr;
  }

  function td(child, className) {
    const cell = el('td', undefined, className);
    cell.appendChild(child);
    return cell;
  }

  /** A session that ended (expired, logged out elsewhere, token changed): back to the form. */
  function checkAuth(res) {
    if (res.status === 401) window.location.assign('/ui/login');
    return res;
  }

  async function api(method, path, body) {
    const headers = { 'x-csrf-token': csrf };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = checkAuth(await fetch(path, {
      method, headers, credentials: 'same-origin', ...(body !== undefined && { body: JSON.stringify(body) }),
    }));
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(data.error || `${method} ${path}: ${res.status}`);
    return data;
  }

  function time(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour12: false });
  }

  // ---------------------------------------------------------------- live decisions

  const rows = $('rows');
  const filters = { agent: $('f-agent'), role: $('f-role'), action: $('f-action'), reason: $('f-reason'), name: $('f-name') };
  /** Agents seen in the stream: the quarantine panel offers them too. */
  const seenAgents = new Set();
  let paused = false;
  /** Decisions that arrived while paused, shown on resume (bounded like the table). */
  let held = [];

  function matches(d) {
    const agent = filters.agent.value.trim();
    const role = filters.role.value.trim();
    const name = filters.name.value.trim().toLowerCase();
    return (agent === '' || d.agent === agent)
      && (role === '' || d.role === role)
      && (filters.action.value === '' || d.action === filters.action.value)
      && (filters.reason.value === '' || d.reason === filters.reason.value)
      && (name === '' || (typeof d.qname === 'string' && d.qname.includes(name)));
  }

  function ruleText(d) {
    if (d.grant) return `${d.grant.command} (by ${d.grant.approved_by})`;
    if (d.hold_id) return `hold ${d.hold_id}`;
    return d.rule || d.tunneling || d.error || '';
  }

  /** Under a blocked row's rule: a button that asks for the allow item suggest would write for its name. */
  function allowLineButton(qname) {
    const box = el('div', undefined, 'allow');
    const button = el('button', 'Allow line', 'quiet small');
    button.type = 'button';
    button.addEventListener('click', async () => {
      let allow = null;
      try {
        allow = (await api('GET', `/v1/allow-line?name=${encodeURIComponent(qname)}`)).allow;
      } catch {
        return;   // the panels' refresh says when the proxy is away
      }
      box.replaceChildren(...(allow
        ? [el('code', allow), copyButton(allow)]
        : [el('span', 'suggest proposes no allow line for it', 'muted')]));
    });
    box.appendChild(button);
    return box;
  }

  function decisionRow(d) {
    const rule = el('td', ruleText(d), 'rule');
    if (d.blocked && typeof d.qname === 'string' && uncovered.has(d.reason)) rule.appendChild(allowLineButton(d.qname));
    const tr = row([
      time(d.time), d.agent || d.client, d.role || '', el('td', d.qname || '', 'name'), d.qtype || '',
      td(el('span', d.action, `tag ${d.action}`)), d.reason, rule,
    ]);
    tr.className = d.blocked ? 'blocked' : d.would_block ? 'would-block' : '';
    tr.decision = d;
    tr.hidden = !matches(d);
    return tr;
  }

  function show(d) {
    rows.insertBefore(decisionRow(d), rows.firstChild);
    while (rows.childElementCount > MAX_ROWS) rows.removeChild(rows.lastElementChild);
  }

  function countRows() {
    let visible = 0;
    for (const tr of rows.children) if (!tr.hidden) visible++;
    const total = rows.childElementCount;
    $('row-count').textContent = total === 0 ? '' : visible === total ? `${total} rows, newest first` : `${visible} of ${total} shown`;
    $('rows-empty').hidden = total > 0;
  }

  function applyFilters() {
    for (const tr of rows.children) tr.hidden = !matches(tr.decision);
    countRows();
  }
  for (const input of Object.values(filters)) input.addEventListener('input', applyFilters);

  $('pause').addEventListener('click', () => {
    paused = !paused;
    $('pause').textContent = paused ? 'Resume' : 'Pause';
    $('pause').setAttribute('aria-pressed', String(paused));
    if (!paused) {
      for (const d of held) show(d);
      held = [];
      countRows();
    }
  });

  function connect() {
    const state = $('stream-state');
    const source = new EventSource('/v1/decisions');
    source.addEventListener('open', () => {
      state.textContent = 'live';
      state.className = 'pill live';
    });
    source.addEventListener('error', () => {
      // EventSource reconnects by itself; a closed one (401 after the session ended) does not.
      state.textContent = source.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…';
      state.className = 'pill down';
      if (source.readyState === EventSource.CLOSED) fetch('/v1/top', { credentials: 'same-origin' }).then(checkAuth, () => {});
    });
    source.addEventListener('decision', (event) => {
      let d;
      try {
        d = JSON.parse(event.data);
      } catch {
        return;
      }
      if (d.agent) seenAgents.add(d.agent);
      if (paused) {
        held.push(d);
        if (held.length > MAX_ROWS) held.shift();
        return;
      }
      show(d);
      countRows();
    });
    source.addEventListener('dropped', (event) => {
      let count = 0;
      try {
        count = JSON.parse(event.data).count;
      } catch {
        // keep 0
      }
      show({ time: new Date().toISOString(), client: '', qname: `${count} decisions not shown: the page fell behind`, action: 'drop', reason: '' });
      countRows();
    });
  }

  // ---------------------------------------------------------------- panels

  function fill(sectionId, items, toRow) {
    const section = $(sectionId);
    const body = section.querySelector('tbody');
    body.replaceChildren(...items.map(toRow));
    section.querySelector('.empty').hidden = items.length > 0;
  }

  function copyButton(value) {
    const button = el('button', 'Copy', 'quiet small');
    button.type = 'button';
    button.addEventListener('click', () => {
      navigator.clipboard?.writeText(value).then(() => {
        button.textContent = 'Copied';
        setTimeout(() => { button.textContent = 'Copy'; }, 1500);
      }, () => {});
    });
    return button;
  }

  let topAgents = [];
  let quarantined = new Map();   // agent → who set it

  async function refreshTop() {
    const top = await api('GET', '/v1/top');
    fill('top-blocked', top.top_blocked, (c) => {
      // The name, and under it the allow item suggest writes for it, ready to copy.
      const cell = el('td', undefined, 'wrap');
      cell.appendChild(el('div', c.name, 'name'));
      const allow = el('div', undefined, 'allow');
      if (c.allow) {
        allow.appendChild(el('code', c.allow));
        allow.appendChild(copyButton(c.allow));
      } else {
        // Blocked by a deny rule, rebinding, quarantine… (an allow entry would not lift it), or no list could hold the name.
        allow.appendChild(el('span', 'suggest proposes no allow line for it', 'muted'));
      }
      cell.appendChild(allow);
      return row([cell, el('td', c.count, 'num')]);
    });
    topAgents = top.top_agents.map((c) => c.agent);
    fill('top-agents', top.top_agents, (c) => row([c.agent, el('td', c.count, 'num')]));
  }

  async function refreshHolds() {
    const { holds } = await api('GET', '/v1/holds');
    fill('holds', holds, (h) => row([h.agent, el('td', h.qname, 'name'), h.qtype, td(el('span', h.state, `tag ${h.state}`)), time(h.opened_at)]));
  }

  async function refreshGrants() {
    const { grants } = await api('GET', '/v1/grants');
    fill('grants', grants, (g) => row([
      g.agent, el('td', g.scope === 'subtree' ? `*.${g.name}` : g.name, 'name'), el('td', g.command, 'command'), g.approved_by, time(g.expires_at),
    ]));
  }

  async function refreshQuarantine() {
    const q = await api('GET', '/v1/quarantine');
    quarantined = new Map(q.agents.map((a) => [a, 'admin']));
    for (const s of q.service) quarantined.set(s.agent, quarantined.has(s.agent) ? 'admin and service' : 'service');
    const agents = [...new Set([...quarantined.keys(), ...topAgents, ...seenAgents])].sort();
    fill('quarantine', agents, (agent) => {
      const on = quarantined.has(agent);
      const button = el('button', on ? 'Release' : 'Quarantine', on ? 'quiet' : 'danger');
      button.type = 'button';
      button.dataset.agent = agent;
      button.addEventListener('click', () => setQuarantine(agent, !on));
      return row([agent, td(el('span', on ? `quarantined (${quarantined.get(agent)})` : 'off', on ? 'tag quarantined' : 'tag off')), td(button)]);
    });
  }

  async function setQuarantine(agent, on) {
    const error = $('quarantine-error');
    error.hidden = true;
    try {
      await api(on ? 'POST' : 'DELETE', '/v1/quarantine', { agent });
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
    await refreshQuarantine().catch(() => {});
  }

  $('quarantine-add').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $('quarantine-agent');
    const agent = input.value.trim();
    if (agent === '') return;
    input.value = '';
    void setQuarantine(agent, true);
  });

  const logout = $('logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      await api('POST', '/ui/logout').catch(() => {});
      window.location.assign('/ui/login');
    });
  }

  async function refresh() {
    // Each panel on its own: one failing (a 404 without the decision stream, a slow answer) leaves the rest current.
    await Promise.allSettled([refreshTop(), refreshHolds(), refreshGrants()]);
    await refreshQuarantine().catch(() => {});
  }

  connect();
  countRows();
  void refresh();
  setInterval(() => void refresh(), REFRESH_MS);
})();
