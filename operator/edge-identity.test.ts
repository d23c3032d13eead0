// The edges the operator renders name their NotificationService in every log line: the ConfigMap
// carries HERALD_NOTIFICATION_SERVICE (namespace/name), which the edges' own config loader reads
// (edge/main.ts puts it on every line as notificationservice; e2e/edge/logs.test.ts reads them).
import test from "ava";
import { loadConfig } from "../shared/config.js";
import { renderAll } from "./render.js";
import { resource } from "./test/resource.js";

test("the edge ConfigMap names the NotificationService, as the edges' config loader reads it", (t) => {
  const ns = resource({ nats: { url: "nats://nats.nats:4222" } });
  const configMap = renderAll(ns, ns.spec).find((o) => o.kind === "ConfigMap") as unknown as {
    data: Record<string, string>;
  };
  t.is(configMap.data.HERALD_NOTIFICATION_SERVICE, "prod/news");
  t.is(loadConfig(configMap.data).notificationService, "prod/news");
});
