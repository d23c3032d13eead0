// How the edge and the operator authenticate to NATS and reach JetStream: one function from the
// credentials (a .creds file, an nkey seed, or a user and password; a CA and client certificate
// for TLS) to nats.js connection options, so that the two always connect the same way.
import {
  credsAuthenticator,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type ConnectionOptions,
} from "@nats-io/nats-core";

/** NATS credentials and TLS material, as contents (the edge reads them from its mounted files). */
export interface NatsAccess {
  /** A .creds file (user JWT and nkey seed). */
  creds?: string;
  /** An nkey seed (SU…). */
  nkeySeed?: string;
  user?: string;
  password?: string;
  /** PEM: the CA to verify the servers with, and a client certificate and its key. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** JetStream domain (leaf nodes, hub and spoke). */
  jetstreamDomain?: string;
}

/**
 * The authentication and TLS part of nats.js connection options, and no async traces: by default
 * nats.js makes an Error (a stack trace) for every request in case it times out, which took a
 * quarter of an edge's CPU under publish load (docs/performance.md); errors here are wrapped with
 * what was being done instead.
 */
export function natsConnectionOptions(
  access: NatsAccess,
): Pick<ConnectionOptions, "authenticator" | "tls" | "noAsyncTraces"> {
  const encoder = new TextEncoder();
  let authenticator: Authenticator | undefined;
  if (access.creds !== undefined) authenticator = credsAuthenticator(encoder.encode(access.creds));
  else if (access.nkeySeed !== undefined)
    authenticator = nkeyAuthenticator(encoder.encode(access.nkeySeed.trim()));
  else if (access.user !== undefined)
    authenticator = usernamePasswordAuthenticator(access.user, access.password);
  const tls = access.tls && (access.tls.ca ?? access.tls.cert) !== undefined ? { ...access.tls } : undefined;
  return { noAsyncTraces: true, ...(authenticator ? { authenticator } : {}), ...(tls ? { tls } : {}) };
}

/** A stable key for a connection pool: the same servers and access share one connection. */
export function natsAccessKey(servers: string, access: NatsAccess): string {
  return JSON.stringify([servers, access]);
}
