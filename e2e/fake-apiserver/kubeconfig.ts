// A kubeconfig pointing at a fake API server, for real kubectl and for the operator.
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";

export function writeKubeconfig(path: string, serverUrl: string, namespace = "default"): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    // client-node refuses plain HTTP unless TLS verification is explicitly off (there is no TLS here).
    clusters: [{ name: "fake", cluster: { server: serverUrl, "insecure-skip-tls-verify": true } }],
    users: [{ name: "fake", user: { token: "fake-token" } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: "fake", namespace } }],
    "current-context": "fake",
  };
  writeFileSync(path, stringify(config));
  return path;
}
