// Who is calling the HTTP API: `Authorization: Bearer <API key or JWT>`, else anonymous when it is
// allowed. The grants decide what the request may do, exactly as for WebSocket sessions.
import type { FastifyRequest } from "fastify";
import type { Authenticator, Grants } from "../auth/grants.js";
import { RequestError } from "../requests/request-error.js";

export async function requestGrants(request: FastifyRequest, authenticator: Authenticator): Promise<Grants> {
  const header = request.headers.authorization;
  if (header === undefined) {
    const anonymous = authenticator.anonymous();
    if (anonymous) return anonymous;
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
  if (keyGrants) return keyGrants;
  // A JWT has three dot-separated parts; anything else can only have been meant as an API key.
  if (credential.split(".").length !== 3) throw new RequestError("unauthenticated", "unknown API key");
  return authenticator.verifyToken(credential);
}
