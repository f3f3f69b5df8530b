/** What limit/ offers other folders. */
export { TokenBuckets } from './buckets.js';
export { LineSampler, SAMPLE_INTERVAL_MS, MAX_SAMPLED_LINES_PER_S, MAX_SAMPLED_SOURCES } from './sampler.js';
export { RateLimit, type Rates } from './rate-limit.js';
export { SocketBudget } from './sockets.js';
export { readOpenFileLimit, upstreamSocketBound, type SocketBound } from './nofile.js';
