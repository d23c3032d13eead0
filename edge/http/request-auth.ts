// Who is calling the HTTP API: `Authorization: Bearer <API key or JWT>`, else anonymous when it is
// allowed. The grants decide what the request may do, exactly as for WebSocket sessions.
import type { FastifyRequest } from "fastify";
import type { Authenticator, Grants } from "../auth/grants.js";
import type { Credential } from "../requests/rate-limits.js";
import { RequestError } from "../requests/request-error.js";

/** The grants of a request, and the credential its rate limits are kept under. */
export interface Caller {
  readonly grants: Grants;
  readonly credential: Credential;
}

export async function requestGrants(request: FastifyRequest, authenticator: Authenticator): Promise<Grants> {
  return (await requestCaller(request, authenticator)).grants;
}

export async function requestCaller(request: FastifyRequest, authenticator: Authenticator): Promise<Caller> {
  const header = request.headers.authorization;
  if (header === undefined) {
    const anonymous = authenticator.anonymous();
    // Anonymous callers have no credential of their own: their address stands for it.
    if (anonymous) return { grants: anonymous, credential: `address:${request.ip}` };
    throw new RequestError(
      "unauthenticated",
      `send Authorization: Bearer <API key or JWT>; this edge accepts ${authenticator.accepts.http}`,
    );
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match)
    throw new RequestError(
      "unauthenticated",
      `the Authorization header must be: Bearer <API key or JWT>; this edge accepts ${authenticator.accepts.http}`,
    );
  const credential = match[1]!;
  const keyGrants = authenticator.verifyApiKey(credential);
  // An API key's subject is api-key:<index>.
  if (keyGrants) return { grants: keyGrants, credential: keyGrants.subject as Credential };
  // A JWT has three dot-separated parts; anything else can only have been meant as an API key.
  if (credential.split(".").length !== 3) throw new RequestError("unauthenticated", "unknown API key");
  const grants = await authenticator.verifyToken(credential);
  return { grants, credential: `token:${grants.subject}` };
}
