/** The only import path for other folders. */
export { startListeners, DEFAULT_CLOSE_GRACE_MS, type Listeners, type ListenerOptions } from './listeners.js';
export { ListenError } from './errors.js';
export { UDP_DEFAULTS, type UdpLimits } from './udp.js';
export { TCP_DEFAULTS, type TcpLimits } from './tcp.js';
export { DROP_REASONS, type DropReason, type MessageHandler, type Peer, type ReceiveHooks } from './types.js';
