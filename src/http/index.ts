/** The only import path for other folders. */
export { startHttp, HTTP_DEFAULTS, type HttpServer, type HttpOptions, type HttpLimits } from './server.js';
export { type Lister, type QuarantineStore, MAX_AGENT_NAME } from './admin.js';
export { HttpListenError } from './errors.js';
export { SHED_REASONS, type ShedReason } from './connections.js';
export { DecisionStream, DECISION_STREAM_DEFAULTS, type DecisionStreamLimits, type DecisionFilter } from './decision-stream.js';
