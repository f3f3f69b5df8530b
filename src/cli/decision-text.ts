/**
 * One decision log line as `intentdns tail` prints it on a terminal:
 *
 *   2025-06-01T09:12:03.481Z ci-1 coding gist.github.com A sinkhole denylist rule=gist.github.com
 *
 * Fields someone else chose (names, rules, commands) have their control
 * characters replaced, so a line cannot move the cursor or forge another.
 */

const RESET = '\x1b[0m';
const COLOUR: Readonly<Record<string, string>> = {
  forward: '\x1b[32m',   // green
  hold: '\x1b[33m',      // yellow
  sinkhole: '\x1b[31m',  // red
  refuse: '\x1b[31m',
  drop: '\x1b[31m',
};
const DIM = '\x1b[2m';

export function decisionText(line: Record<string, unknown>, colour: boolean): string {
  const time = typeof line.time === 'number' ? new Date(line.time).toISOString() : '-';
  const action = field(line.action);
  const paint = (code: string | undefined, text: string): string => (colour && code !== undefined ? `${code}${text}${RESET}` : text);
  const parts = [
    paint(DIM, time), field(line.agent), field(line.role), field(line.qname), field(line.qtype),
    paint(COLOUR[action], action), field(line.reason),
  ];
  if (line.would_block === true) parts.push(paint(COLOUR.hold, 'audit:would_block'));
  if (typeof line.rule === 'string') parts.push(`rule=${safe(line.rule)}`);
  const grant = line.grant as { id?: unknown; command?: unknown; approved_by?: unknown } | undefined;
  if (grant !== undefined && grant !== null) {
    const by = typeof grant.approved_by === 'string' ? ` by ${safe(grant.approved_by)}` : '';
    parts.push(`grant=${field(grant.id)}${by} (${field(grant.command)})`);
  }
  if (typeof line.error === 'string') parts.push(`error=${safe(line.error)}`);
  if (typeof line.limited === 'number' && line.limited > 1) parts.push(`(${line.limited} like it)`);
  return parts.join(' ');
}

function field(value: unknown): string {
  return typeof value === 'string' && value !== '' ? safe(value) : '-';
}

function safe(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}
