// Preloaded into the intentdns processes of bench/lists.js and bench/soak.js (node --expose-gc --require):
// on SIGUSR2, a full GC and one line on stderr, `lists-gc N {process.memoryUsage()}`, so the bench
// can read the RSS of what the server keeps apart from what parsing its config left behind (lists),
// and the size of the live heap under load (soak).
'use strict';
let n = 0;
process.on('SIGUSR2', () => {
  if (typeof global.gc === 'function') { global.gc(); global.gc(); }
  n++;
  process.stderr.write(`lists-gc ${n} ${JSON.stringify(process.memoryUsage())}\n`);
});
