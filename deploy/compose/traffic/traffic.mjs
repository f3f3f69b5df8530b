// A bounded DNS traffic generator for the compose demo: an "agent" that asks
// intentdns for names, so the dashboard has data. Node built-ins only (the
// resolver is c-ares, a client nobody here wrote), so it runs on the plain
// node image.
//
// Environment:
//   INTENTDNS     the proxy's address (required)
//   NAMES         names to ask for, separated by white space
//   ROUNDS        how many rounds (default 600, at most 3600)
//   INTERVAL_MS   pause between rounds (default 1000, at least 100)
//   RANDOM_NAMES  "1": also one never-seen name a round (unlisted: held or sinkholed)
//   LOCAL_ADDRESS source address to send from (to try it on loopback as 127.0.0.10)
//
// Each round asks three names from NAMES (A, sometimes AAAA), one TXT query
// every ten rounds (refused where the role's qtypes leave TXT out) and the
// random name. It exits after ROUNDS rounds, and in any case after
// ROUNDS x INTERVAL_MS + 60 s.
import { Resolver } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';

const server = process.env.INTENTDNS;
if (!server) {
  console.error('traffic: set INTENTDNS to the proxy address');
  process.exit(2);
}
const names = (process.env.NAMES ?? '').split(/\s+/).filter(Boolean);
if (names.length === 0) names.push('example.com');
const rounds = Math.min(Math.max(Number(process.env.ROUNDS ?? 600) || 600, 1), 3600);
const intervalMs = Math.max(Number(process.env.INTERVAL_MS ?? 1000) || 1000, 100);
const randomNames = process.env.RANDOM_NAMES === '1';

// The hard stop: whatever happens, this container ends.
setTimeout(() => {
  console.log('traffic: deadline reached, exiting');
  process.exit(0);
}, rounds * intervalMs + 60_000).unref();

// One try, 6 s: longer than intentdns' hold_timeout (4 s), so held queries get their answer.
const resolver = new Resolver({ timeout: 6000, tries: 1 });
resolver.setServers([server]);
if (process.env.LOCAL_ADDRESS) resolver.setLocalAddress(process.env.LOCAL_ADDRESS);

const tally = new Map();
const count = (what) => tally.set(what, (tally.get(what) ?? 0) + 1);
const pick = () => names[Math.floor(Math.random() * names.length)];

async function ask(name, type) {
  try {
    if (type === 'AAAA') await resolver.resolve6(name);
    else if (type === 'TXT') await resolver.resolveTxt(name);
    else await resolver.resolve4(name);
    count('answered');
  } catch (err) {
    // ENOTFOUND: NXDOMAIN (sinkholed, or the name does not exist); EREFUSED;
    // ESERVFAIL; ENODATA; ETIMEOUT.
    count(err.code ?? 'error');
  }
}

console.log(`traffic: ${rounds} rounds every ${intervalMs} ms to ${server}, ${names.length} names${randomNames ? ' + random ones' : ''}`);
for (let round = 1; round <= rounds; round++) {
  const batch = [];
  for (let i = 0; i < 3; i++) batch.push(ask(pick(), Math.random() < 0.25 ? 'AAAA' : 'A'));
  if (round % 10 === 0) batch.push(ask(pick(), 'TXT'));
  if (randomNames) batch.push(ask(`t${randomBytes(4).toString('hex')}.example.net`, 'A'));
  await Promise.all(batch);
  if (round % 60 === 0 || round === rounds) {
    console.log(`traffic: round ${round}/${rounds}: ${[...tally].map(([k, v]) => `${k}=${v}`).join(' ')}`);
  }
  if (round < rounds) await new Promise((resolve) => setTimeout(resolve, intervalMs));
}
console.log('traffic: done');
