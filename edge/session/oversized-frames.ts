// Frames far over HERALD_MAX_FRAME_BYTES get close code 4009 with a readable reason, like any frame
// over the limit (docs/protocol.md#close-codes), instead of ws's own 1009 with an empty reason.
//
// The WebSocketServer's maxPayload (wsMaxPayload) lets frames up to twice the limit through to the
// session, which refuses them with 4009 itself. Beyond that, ws's receiver stops reading the frame
// (nothing of it is buffered) and emits 'error'; ws's own handler for that error closes with 1009
// before any listener of ours runs. The receiver is a private field of ws's WebSocket (`_receiver`,
// ws 8): a listener prepended there runs first, and once our close frame is on its way ws's close
// does nothing more. Pinned by oversized-frames.test.ts, so an upgrade of ws that moves the field or
// changes the order fails that test rather than silently going back to 1009.
import { EventEmitter } from "node:events";
import type { WebSocket } from "ws";

/** Frames up to this many bytes reach the session; set as the WebSocketServer's maxPayload. */
export const wsMaxPayload = (maxFrameBytes: number): number => 2 * maxFrameBytes;

/** The codes ws's receiver gives a message over maxPayload, or a length it cannot even represent. */
const TOO_BIG = new Set(["WS_ERR_UNSUPPORTED_MESSAGE_LENGTH", "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"]);

/** The close reason for a frame that ws stopped reading at `maxPayload` bytes. */
export const oversizedReason = (maxFrameBytes: number): string =>
  `frame of more than ${wsMaxPayload(maxFrameBytes)} bytes is over the limit of ${maxFrameBytes} bytes`;

/** Who hears of a frame over maxPayload; its oversized() must close the WebSocket. */
export interface OversizedListener {
  oversized(): void;
}

/** Where the receiver keeps its listener (one listener function for every connection). */
const LISTENER = Symbol("herald.oversized");
type Listened = EventEmitter & { [LISTENER]: OversizedListener };

function onReceiverError(this: Listened, error: Error & { code?: string }): void {
  if (error.code !== undefined && TOO_BIG.has(error.code)) this[LISTENER].oversized();
}

/**
 * Calls `listener.oversized()` when ws refuses a frame over maxPayload, before ws closes with 1009.
 * Returns false, changing nothing, when this ws has no receiver to listen on.
 */
export function onOversizedFrame(ws: WebSocket, listener: OversizedListener): boolean {
  const receiver = (ws as WebSocket & { _receiver?: unknown })._receiver;
  if (!(receiver instanceof EventEmitter)) return false;
  (receiver as Listened)[LISTENER] = listener;
  receiver.prependListener("error", onReceiverError);
  return true;
}
