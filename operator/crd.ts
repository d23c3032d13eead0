// The CustomResourceDefinition object, built from the TypeBox schemas in spec.ts. generate-crd.ts
// writes it to YAML; the fake API server and the tests read the generated file, never this object,
// so that what is checked is exactly what users install.
import {
  API_VERSION,
  GROUP,
  KIND,
  NotificationServiceSpec,
  NotificationServiceStatus,
  PLURAL,
  VERSION,
} from "./spec.js";

/** Plain JSON (TypeBox keeps its metadata under Symbol keys, which JSON drops). */
function openApi(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

export function customResourceDefinition() {
  const root = {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: openApi(NotificationServiceSpec),
      status: openApi(NotificationServiceStatus),
    },
  };
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${PLURAL}.${GROUP}` },
    spec: {
      group: GROUP,
      names: {
        kind: KIND,
        listKind: `${KIND}List`,
        plural: PLURAL,
        singular: "notificationservice",
        shortNames: ["herald"],
      },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              description: `${KIND} (${API_VERSION}): a Herald notification service.`,
              ...root,
            },
          },
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.edge.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: [
            { name: "Ready", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: "Reason", type: "string", jsonPath: '.status.conditions[?(@.type=="Ready")].reason' },
            { name: "Replicas", type: "integer", jsonPath: ".status.readyReplicas" },
            { name: "Endpoint", type: "string", jsonPath: ".status.endpoint" },
            { name: "Version", type: "string", jsonPath: ".status.edgeVersion", priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    },
  };
}
