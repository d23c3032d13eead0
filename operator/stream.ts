// The JetStream stream of each NotificationService, managed through NATS with the SAME functions
// the edge uses (the controller derives the desired stream with desiredStreamConfig from the edge's
// own loadConfig; streamConfigProblems, streamUpdate here), so the two never disagree. Safe limit changes are applied; unsafe ones (storage, subjects, retention, republish)
// are refused with the reasons, never applied. Each stream carries its owner in its `description`
// (2.9 has no stream metadata), so that two NotificationServices never share one stream.
import { type NatsConnection } from "@nats-io/nats-core";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { streamConfigProblems, streamUpdate, type DesiredStreamConfig } from "../shared/stream-config.js";
import { epochOf, streamInfo } from "../shared/stream-info.js";
import { natsAccessKey, natsConnectionOptions, type NatsAccess } from "../shared/nats-connection.js";

export class StreamRefusedError extends Error {
  constructor(readonly problems: string[]) {
    super(`unsafe stream change refused: ${problems.join("; ")}`);
    this.name = "StreamRefusedError";
  }
}

/** The stream belongs to another NotificationService (or to something that is not Herald). */
export class StreamConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StreamConflictError";
  }
}

export interface StreamOwner {
  namespace: string;
  name: string;
  uid: string;
}

const OWNER_PATTERN = /^herald: ([^/\s]+)\/(\S+) uid (\S+)$/;

/** The ownership marker written into the stream's description. */
export function ownerDescription(owner: StreamOwner): string {
  return `herald: ${owner.namespace}/${owner.name} uid ${owner.uid}`;
}

/**
 * Why `owner` may not use a stream with this description; undefined when it may: a stream without
 * a description (created by an edge, or by an operator before ownership markers) is claimed, and
 * a resource re-created under the same namespace/name (new uid) takes its retained stream back.
 */
export function ownershipConflict(
  stream: string,
  description: string | undefined,
  owner: StreamOwner,
): string | undefined {
  if (!description) return undefined;
  const match = OWNER_PATTERN.exec(description);
  if (!match)
    return `stream ${stream} exists and is not managed by Herald (description ${JSON.stringify(description)}); choose another spec.stream.name`;
  const [, namespace, name, uid] = match;
  if (namespace === owner.namespace && name === owner.name) return undefined;
  return `stream ${stream} belongs to NotificationService ${namespace}/${name} (uid ${uid}); choose another spec.stream.name`;
}

export interface StreamState {
  name: string;
  epoch: string;
  /** What this call changed: "created", the limits it updated, or nothing. */
  changes: string[];
}

/** One NATS connection per (servers, credentials and TLS material), reused across reconciles. */
export class StreamManager {
  private readonly connections = new Map<string, Promise<NatsConnection>>();

  private async manager(servers: string, access: NatsAccess): Promise<JetStreamManager> {
    const key = natsAccessKey(servers, access);
    let connection = this.connections.get(key);
    if (!connection) {
      connection = connect({
        servers: servers.split(",").map((s) => s.trim()),
        name: "herald-operator",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 5000,
        ...natsConnectionOptions(access),
      });
      this.connections.set(key, connection);
      // A failed connection attempt must not be cached: the next reconcile tries again.
      connection.catch(() => this.connections.delete(key));
    }
    const domain = access.jetstreamDomain;
    return jetstreamManager(await connection, { timeout: 5000, ...(domain ? { domain } : {}) });
  }

  /**
   * Creates the stream marked as `owner`'s, or updates its safe limits (and claims it when it
   * carries no owner yet); refuses another owner's stream and unsafe changes, changing nothing.
   */
  async ensure(
    servers: string,
    access: NatsAccess,
    desired: DesiredStreamConfig,
    owner: StreamOwner,
  ): Promise<StreamState> {
    const jsm = await this.manager(servers, access);
    const description = ownerDescription(owner);
    let info = await streamInfo(jsm, desired.name);
    if (!info) {
      info = await jsm.streams.add({ ...desired, description });
      return { name: desired.name, epoch: epochOf(info), changes: ["created"] };
    }
    const conflict = ownershipConflict(desired.name, info.config.description, owner);
    if (conflict) throw new StreamConflictError(conflict);
    const problems = streamConfigProblems(info.config, desired);
    const refused = problems.filter((p) => p.kind === "incompatible");
    if (refused.length > 0) throw new StreamRefusedError(refused.map((p) => p.message));
    const claim = info.config.description !== description;
    if (problems.length === 0 && !claim) return { name: desired.name, epoch: epochOf(info), changes: [] };
    info = await jsm.streams.update(desired.name, { ...streamUpdate(info.config, desired), description });
    const changes = problems.map((p) => p.message);
    if (claim)
      changes.push(
        `stream ${desired.name} now marked as owned by ${owner.namespace}/${owner.name} (uid ${owner.uid})`,
      );
    return { name: desired.name, epoch: epochOf(info), changes };
  }

  /**
   * Deletes `owner`'s stream; a stream that is already gone is fine. Another owner's stream is
   * never deleted (StreamConflictError).
   */
  async remove(servers: string, access: NatsAccess, name: string, owner: StreamOwner): Promise<boolean> {
    const jsm = await this.manager(servers, access);
    const info = await streamInfo(jsm, name);
    if (!info) return false;
    const conflict = ownershipConflict(name, info.config.description, owner);
    if (conflict) throw new StreamConflictError(conflict);
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
