import { spawnEdge } from "../../harness/edge-process.js";
import { RawConnection } from "../../hostile/raw-socket.js";
const fns: (() => void | Promise<void>)[] = [];
const t = { teardown: (f: () => void | Promise<void>) => fns.push(f) } as any;
const edge = await spawnEdge(t, { HERALD_UPGRADE_TIMEOUT_MS: "2500" });
try {
  const c = await RawConnection.open(t, edge.port);
  const start = Date.now();
  c.write("POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"topic\"");
  const text = await c.waitForEnd(60000).catch((e) => String(e));
  console.log("body stall", Date.now() - start, JSON.stringify(text.slice(0, 200)));
  const d = await RawConnection.open(t, edge.port);
  const s2 = Date.now();
  d.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  await d.waitForResponse();
  d.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
  const t2 = await d.waitForEnd(60000).catch((e) => String(e));
  console.log("keepalive stall", Date.now() - s2, JSON.stringify(t2.slice(-120)));
} finally {
  for (const f of fns) await f();
}
