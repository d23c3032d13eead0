import test from "ava";
import type { KubeObject } from "./kube.js";
import { SecretIndex } from "./secret-index.js";

const resource = (name: string, spec: unknown, namespace = "prod"): KubeObject => ({
  metadata: { name, namespace },
  spec,
});
const secret = (name: string, namespace = "prod"): KubeObject => ({ metadata: { name, namespace } });
const nats = { url: "nats://n:4222" };

test("a Secret event finds exactly the resources in its namespace that reference it, as they change", (t) => {
  const index = new SecretIndex();
  index.update(
    resource("news", {
      nats,
      auth: { jwtSecret: { name: "shared", key: "jwt" }, apiKeysSecret: { name: "shared", key: "keys" } },
    }),
    false,
  );
  index.update(
    resource("sport", { nats: { ...nats, credentialsSecret: { name: "shared", key: "c" } } }),
    false,
  );
  index.update(
    resource("other", { nats, auth: { apiKeysSecret: { name: "shared", key: "keys" } } }, "dev"),
    false,
  );
  t.deepEqual(index.usersOf(secret("shared")).sort(), ["prod/news", "prod/sport"]);
  t.deepEqual(index.usersOf(secret("shared", "dev")), ["dev/other"]);
  t.deepEqual(index.usersOf(secret("unrelated")), []);

  index.update(resource("news", { nats, auth: { apiKeysSecret: { name: "keys-v2", key: "keys" } } }), false);
  t.deepEqual(index.usersOf(secret("shared")), ["prod/sport"], "a changed reference moves");
  t.deepEqual(index.usersOf(secret("keys-v2")), ["prod/news"]);
  index.update(
    resource("sport", { nats: { ...nats, credentialsSecret: { name: "shared", key: "c" } } }),
    true,
  );
  t.deepEqual(index.usersOf(secret("shared")), [], "a deleted resource references nothing");
  index.update(resource("news", { nats: {} }), false);
  t.deepEqual(index.usersOf(secret("keys-v2")), [], "an invalid spec references nothing");
});
