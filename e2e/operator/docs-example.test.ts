// docs/operator.md's complete example holds: its NotificationService and Gateway are valid against
// their schemas, every Secret key the resource references is created by the commands in the
// document, and the edges it renders would let clients in (a JWT key and API keys, no anonymous
// access) over NATS with TLS and a user.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { parseAllDocuments } from "yaml";
import { ROOT } from "./harness.js";
import { validateManifest } from "./kubernetes-schemas.js";
import { edgeConfig } from "../../operator/render.js";
import { parseSpec, secretRefs, type NotificationService } from "../../operator/spec.js";
import { hasNoWayIn } from "../../shared/config.js";

const DOC = readFileSync(join(ROOT, "docs/operator.md"), "utf8");

/** Every Kubernetes object in the document's yaml blocks. */
const objects = [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)]
  .flatMap(([, block]) => parseAllDocuments(block!).map((d) => d.toJS() as Record<string, unknown> | null))
  .filter((o): o is Record<string, unknown> & { kind: string } => typeof o?.kind === "string");

/** name/key of every `kubectl create secret` in the document's sh blocks. */
function createdSecretKeys(): Set<string> {
  const keys = new Set<string>();
  const commands = [...DOC.matchAll(/```sh\n([\s\S]*?)```/g)]
    .map(([, block]) => block!.replace(/\\\n\s*/g, " "))
    .flatMap((block) => block.split("\n"))
    .filter((line) => /kubectl .*create secret /.test(line));
  for (const command of commands) {
    const [, type, name] = /create secret (generic|tls) (\S+)/.exec(command)!;
    if (type === "tls") for (const key of ["tls.crt", "tls.key"]) keys.add(`${name}/${key}`);
    for (const [, key] of command.matchAll(/--from-(?:literal|file)=([^=\s]+)=/g)) keys.add(`${name}/${key}`);
  }
  return keys;
}

test("the example's objects are valid against their schemas", async (t) => {
  t.deepEqual(objects.map((o) => o.kind).sort(), ["Gateway", "NotificationService"]);
  for (const object of objects) await t.notThrowsAsync(validateManifest(object), object.kind);
});

test("the example creates every Secret it references, and its edges let clients in over NATS with TLS", (t) => {
  const example = objects.find((o) => o.kind === "NotificationService")! as unknown as NotificationService;
  const spec = parseSpec(example.spec);
  const created = createdSecretKeys();
  const referenced = secretRefs(spec).map((ref) => `${ref.name}/${ref.key}`);
  for (const key of referenced) t.true(created.has(key), `${key} is created in the document`);
  t.true(spec.nats.url.startsWith("tls://"), "NATS over TLS");
  t.truthy(spec.nats.userPasswordSecret, "NATS with a user");
  t.truthy(spec.nats.tls?.caSecret);
  const resource = { ...example, metadata: { ...example.metadata, uid: "u" }, spec };
  const secrets = new Map(referenced.map((key) => [key, Buffer.from("x".repeat(64)).toString("base64")]));
  const config = edgeConfig(resource, spec, secrets);
  t.false(config.allowAnonymous);
  t.false(hasNoWayIn(config));
  // The Gateway the route attaches to reads the certificate Secret the document creates.
  const gateway = objects.find((o) => o.kind === "Gateway") as unknown as {
    metadata: { name: string; namespace: string };
    spec: { listeners: { name: string; tls: { certificateRefs: { name: string }[] } }[] };
  };
  t.like(spec.gateway?.parentRefs[0], { name: gateway.metadata.name, namespace: gateway.metadata.namespace });
  const certificate = gateway.spec.listeners[0]!.tls.certificateRefs[0]!.name;
  t.true(created.has(`${certificate}/tls.crt`), `${certificate} is created in the document`);
});
