// The demo page and its scripts: the files of edge/public, served as they are (no build step).
// client.js is the SDK bundle that `npm run build:client` writes there.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import { RequestError } from "../requests/request-error.js";

const PUBLIC_DIR = fileURLToPath(new URL("../public/", import.meta.url));
const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  map: "application/json",
};
// Plain file names only: nothing with a slash or "..", so no request can leave edge/public.
const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.([a-z]+)$/;

/**
 * GET /client.js: the SDK as one ES module, served whether the demo is on or not, so pages load it
 * from the edge they connect to (also from another origin: edge/sse/cors.ts adds the CORS headers).
 */
export function registerClientBundleRoute(app: FastifyInstance): void {
  app.get("/client.js", (_request, reply) =>
    serve(reply.header("cross-origin-resource-policy", "cross-origin"), "client.js"),
  );
}

export function registerDemoRoutes(app: FastifyInstance): void {
  app.get("/", (_request, reply) => serve(reply, "index.html"));
  app.get<{ Params: { file: string } }>("/:file", (request, reply) => serve(reply, request.params.file));
}

async function serve(reply: import("fastify").FastifyReply, file: string) {
  const type = CONTENT_TYPES[FILE_NAME.exec(file)?.[1] ?? ""];
  if (type === undefined) throw new RequestError("not_found", `no file ${file}`);
  let content: Buffer;
  try {
    content = await readFile(PUBLIC_DIR + file);
  } catch {
    const hint =
      file === "client.js" ? "; the SDK bundle is built by `npm run build:client` (npm start runs it)" : "";
    throw new RequestError("not_found", `no file ${file} in edge/public${hint}`);
  }
  return reply.type(type).header("cache-control", "no-cache").send(content);
}
