// Test support for the operator's unit tests (not part of the build: tsconfig.build.json leaves out test/).
import { parseSpec, type NotificationService } from "../spec.js";

/** The NotificationService prod/news with `spec` as parseSpec reads it (defaults filled in). */
export function resource(spec: unknown): NotificationService {
  return {
    apiVersion: "herald.dev/v1alpha1",
    kind: "NotificationService",
    metadata: { name: "news", namespace: "prod", uid: "uid-1", generation: 1 },
    spec: parseSpec(spec),
  };
}
