// Kubernetes Events about what the operator does and what fails, attached to the
// NotificationService (kubectl describe shows them). Recording an event never fails a reconcile.
import { randomBytes } from "node:crypto";
import type { KubeClient } from "./kube.js";
import type { NotificationService } from "./spec.js";

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  /** Last event per object: an identical repeat (a retry failing the same way) is not recorded again. */
  private readonly last = new Map<string, string>();

  constructor(
    private readonly client: KubeClient,
    private readonly identity: string,
    private readonly log: (line: string) => void,
  ) {}

  async record(ns: NotificationService, type: EventType, reason: string, message: string): Promise<void> {
    const key = `${ns.metadata.namespace}/${ns.metadata.name}`;
    const fingerprint = `${type}\n${reason}\n${message}`;
    if (this.last.get(key) === fingerprint) return;
    this.last.set(key, fingerprint);
    const now = new Date(); // typed as Date by the client's serializer
    try {
      await this.client.create({
        apiVersion: "v1",
        kind: "Event",
        metadata: {
          name: `${ns.metadata.name}.${Date.now().toString(16)}${randomBytes(4).toString("hex")}`,
          namespace: ns.metadata.namespace,
        },
        involvedObject: {
          apiVersion: ns.apiVersion,
          kind: ns.kind,
          name: ns.metadata.name,
          namespace: ns.metadata.namespace,
          uid: ns.metadata.uid,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: "herald-operator" },
        reportingComponent: "herald.dev/operator",
        reportingInstance: this.identity,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (error) {
      this.log(
        `event ${reason} for ${key} not recorded: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }

  forget(key: string): void {
    this.last.delete(key);
  }
}
