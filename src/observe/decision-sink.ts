import type { Action, Reason } from '../pipeline/types.js';

/** One decision as the live stream hands it on: the decision log line and what subscribers filter on. */
export interface DecisionEvent {
  /** The decision log line, as the log writes it: one JSON object ending in "\n". */
  readonly line: string;
  readonly agent: string | undefined;
  readonly role: string | undefined;
  readonly action: Action;
  readonly reason: Reason;
}

/**
 * Where decisions go besides the log (http/decision-stream.ts serves them as
 * GET /v1/decisions). `listening` is read on every decision and is false
 * while nobody subscribes: then no line is made for the stream at all.
 */
export interface DecisionSink {
  readonly listening: boolean;
  publish(event: DecisionEvent): void;
}
