// Which NotificationServices reference which Secrets, so that a Secret event finds the resources
// to reconcile at once (Secrets carry no owner reference to follow). Kept up to date from the
// NotificationService informer; each resource's spec is parsed once per change, not per Secret event.
import type { KubeObject } from "./kube.js";
import { parseSpec, secretRefs } from "./spec.js";

export class SecretIndex {
  /** "namespace/secret" → "namespace/resource" keys */
  private readonly users = new Map<string, Set<string>>();
  /** "namespace/resource" → the "namespace/secret" entries it is listed under */
  private readonly uses = new Map<string, string[]>();

  /** Records what a resource references now (nothing once it is deleted or its spec is invalid). */
  update(resource: KubeObject, deleted: boolean): void {
    const namespace = resource.metadata?.namespace ?? "";
    const key = `${namespace}/${resource.metadata?.name ?? ""}`;
    for (const secret of this.uses.get(key) ?? []) {
      const users = this.users.get(secret)!;
      users.delete(key);
      if (users.size === 0) this.users.delete(secret);
    }
    this.uses.delete(key);
    const secrets = deleted ? [] : referencedSecrets(resource, namespace);
    if (secrets.length === 0) return;
    this.uses.set(key, secrets);
    for (const secret of secrets) {
      const users = this.users.get(secret) ?? new Set();
      this.users.set(secret, users.add(key));
    }
  }

  /** Keys of the resources that reference this Secret. */
  usersOf(secret: KubeObject): string[] {
    return [...(this.users.get(`${secret.metadata?.namespace ?? ""}/${secret.metadata?.name ?? ""}`) ?? [])];
  }
}

function referencedSecrets(resource: KubeObject, namespace: string): string[] {
  try {
    return [...new Set(secretRefs(parseSpec(resource.spec)).map((ref) => `${namespace}/${ref.name}`))];
  } catch {
    return []; // an invalid spec renders nothing, so it uses no Secret
  }
}
