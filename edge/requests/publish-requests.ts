// The publish requests of this edge, from WebSocket `pub` frames and HTTP POST /v1/publish alike:
// entitlement, the size limit, the durable write, metrics. Data is serialized once here; the backend stores that text.
import { BackendUnavailableError, type Backend, type PublishOutcome } from "../backend/backend.js";
import type { Grants } from "../auth/grants.js";
import type { EdgeMetrics } from "../common/metrics.js";
import { matchesAny } from "../../protocol/index.js";
import { RequestError } from "./request-error.js";

export interface PublishRequest {
  readonly topic: string;
  readonly data: unknown;
  readonly msgId?: string;
}

export class PublishRequests {
  constructor(
    private readonly backend: Backend,
    private readonly metrics: EdgeMetrics,
    private readonly maxMessageBytes: number,
  ) {}

  /** Throws RequestError forbidden when `grants` may not publish to the topic. */
  checkAllowed(grants: Grants, topic: string): void {
    if (!matchesAny(grants.publish, topic)) {
      throw new RequestError("forbidden", `not allowed to publish to "${topic}"`);
    }
  }

  /** Serializes the data and checks its size; throws RequestError payload_too_large. */
  encode(request: PublishRequest): { topic: string; data: string; msgId?: string } {
    const data = JSON.stringify(request.data);
    const bytes = Buffer.byteLength(data);
    if (bytes > this.maxMessageBytes) {
      throw new RequestError(
        "payload_too_large",
        `message data is ${bytes} bytes, over the limit of ${this.maxMessageBytes} bytes`,
      );
    }
    return request.msgId === undefined
      ? { topic: request.topic, data }
      : { topic: request.topic, data, msgId: request.msgId };
  }

  /** Stores one encoded message durably. Errors propagate (see toRequestError). */
  async store(
    message: { topic: string; data: string; msgId?: string },
    via: "ws" | "http",
  ): Promise<PublishOutcome> {
    const stopTimer = this.metrics.publishLatency.startTimer();
    let outcome: PublishOutcome;
    try {
      outcome = await this.backend.publish(message);
    } catch (error) {
      this.metrics.publishErrors.inc({
        reason: error instanceof BackendUnavailableError ? "unavailable" : "refused",
      });
      throw error;
    }
    stopTimer();
    if (!outcome.dup) this.metrics.messagesIn.inc({ via });
    return outcome;
  }
}
