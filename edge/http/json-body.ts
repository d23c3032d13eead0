// Request bodies are JSON in UTF-8, checked as such: fastify's own parser decodes bytes that are not
// UTF-8 into U+FFFD, which would be stored silently in place of what the client meant to send.
import type { FastifyInstance } from "fastify";
import { mayHoldInexactNumbers, parseMarkingInexact } from "../../protocol/json-numbers.js";
import { RequestError } from "../requests/request-error.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });

export function installJsonBodyParser(app: FastifyInstance): void {
  // fastify's parser for the decoded text (same empty-body and syntax checks), with its
  // prototype-poisoning scan off: `data` is any JSON value (docs/protocol.md#http), and {"__proto__":1} inside it
  // is data like any other, accepted as over WebSocket. That is safe here because JSON.parse makes
  // such keys own properties (it never sets a prototype), nothing merges client objects
  // (Object.assign, spread) into others, the strict body check refuses unknown top-level fields
  // ("unknown field '__proto__'"), and data is only ever re-serialized by JSON.stringify.
  const parseJson = app.getDefaultJsonParser("ignore", "ignore");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new RequestError("bad_request", "request body is not valid UTF-8"), undefined);
      return;
    }
    // Numbers that parsing would change are marked, and refused by the publish checks
    // (protocol/json-numbers.ts): data is delivered as sent or not at all.
    parseJson(request, text, (error, value) => {
      if (error || !mayHoldInexactNumbers(text)) return done(error, value);
      done(null, parseMarkingInexact(text));
    });
  });
}
