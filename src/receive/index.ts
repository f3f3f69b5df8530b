/** What receive/ offers other folders; import it from here (chain.ts still takes the Peer type from types.ts). */
export {
  startListeners, listenerLimits, DEFAULT_CLOSE_GRACE_MS, IN_FLIGHT_DEFAULTS, type InFlightLimits, type ListenerLimits, type Listeners, type ListenerOptions,
} from './listeners.js';
export { ListenError } from './errors.js';
export { UDP_DEFAULTS, type UdpLimits } from './udp.js';
export { TCP_DEFAULTS, type TcpLimits } from './tcp.js';
export { DROP_REASONS, type DropReason, type MessageHandler, type Peer, type ReceiveHooks } from './types.js';
