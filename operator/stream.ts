// The JetStream stream of each NotificationService, managed through NATS with the SAME functions
// the edge uses (desiredStreamConfig, streamConfigProblems, streamUpdate), so the two never
// disagree. Safe limit changes are applied; unsafe ones (storage, subjects, retention, republish)
// are refused with the reasons, never applied.
import { credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager, type StreamInfo } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { desiredStreamConfig, streamConfigProblems, streamUpdate, type DesiredStreamConfig } from "../edge/backend/jetstream/stream-config.js";
import { epochOf } from "../edge/backend/jetstream/stream-setup.js";
import { loadConfig } from "../edge/config.js";
import { edgeEnvironment } from "./render.js";
import type { NotificationService, NotificationServiceSpec } from "./spec.js";

export class StreamRefusedError extends Error {
  constructor(readonly problems: string[]) {
    super(`unsafe stream change refused: ${problems.join("; ")}`);
    this.name = "StreamRefusedError";
  }
}

export interface StreamState {
  name: string;
  epoch: string;
  /** What this call changed: "created", the limits it updated, or nothing. */
  changes: string[];
}

/**
 * The stream config for a resource, computed from the very ConfigMap the edges receive: the edge's
 * own loader turns it into the edge's config, so the operator and the edges derive the stream from
 * identical values.
 */
export function desiredStream(ns: NotificationService, spec: NotificationServiceSpec): DesiredStreamConfig {
  const config = loadConfig(edgeEnvironment(ns, spec).configData);
  return desiredStreamConfig(config);
}

async function streamInfo(jsm: JetStreamManager, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return undefined;
    throw error;
  }
}

/** One NATS connection per (servers, credentials), reused across reconciles. */
export class StreamManager {
  private readonly connections = new Map<string, Promise<NatsConnection>>();

  private async manager(servers: string, credentials: string | undefined): Promise<JetStreamManager> {
    const key = `${servers}\n${credentials ?? ""}`;
    let connection = this.connections.get(key);
    if (!connection) {
      connection = connect({
        servers: servers.split(",").map((s) => s.trim()),
        name: "herald-operator",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 5000,
        authenticator: credentials ? credsAuthenticator(new TextEncoder().encode(credentials)) : undefined,
      });
      this.connections.set(key, connection);
      // A failed connection attempt must not be cached: the next reconcile tries again.
      connection.catch(() => this.connections.delete(key));
    }
    return jetstreamManager(await connection, { timeout: 5000 });
  }

  /** Creates the stream, or updates its safe limits; refuses unsafe changes. */
  async ensure(servers: string, credentials: string | undefined, desired: DesiredStreamConfig): Promise<StreamState> {
    const jsm = await this.manager(servers, credentials);
    let info = await streamInfo(jsm, desired.name);
    if (!info) {
      info = await jsm.streams.add(desired);
      return { name: desired.name, epoch: epochOf(info), changes: ["created"] };
    }
    const problems = streamConfigProblems(info.config, desired);
    const refused = problems.filter((p) => p.kind === "incompatible");
    if (refused.length > 0) throw new StreamRefusedError(refused.map((p) => p.message));
    if (problems.length === 0) return { name: desired.name, epoch: epochOf(info), changes: [] };
    info = await jsm.streams.update(desired.name, streamUpdate(info.config, desired));
    return { name: desired.name, epoch: epochOf(info), changes: problems.map((p) => p.message) };
  }

  /** Deletes the stream; a stream that is already gone is fine. */
  async remove(servers: string, credentials: string | undefined, name: string): Promise<boolean> {
    const jsm = await this.manager(servers, credentials);
    try {
      return await jsm.streams.delete(name);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return false;
      throw error;
    }
  }

  async close(): Promise<void> {
    const connections = [...this.connections.values()];
    this.connections.clear();
    await Promise.allSettled(connections.map(async (c) => (await c).close()));
  }
}
