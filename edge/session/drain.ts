// Graceful drain (docs/design.md#graceful-drain): the edge's connections are closed in waves spread over
// drainSeconds, each told to reconnect after a spread-out delay, so the other edges see a steady
// trickle of reconnects instead of a storm.
import { setTimeout as delay } from "node:timers/promises";
import { CloseCode, encodeEdgeFrame } from "../../protocol/index.js";
import type { Session } from "./session.js";

/** At most this many waves; fewer when there are fewer connections. */
const MAX_WAVES = 10;

export async function closeInWaves(sessions: Session[], durationMs: number): Promise<void> {
  const waves = Math.max(1, Math.min(MAX_WAVES, sessions.length));
  const waveMs = durationMs / waves;
  for (let wave = 0; wave < waves; wave++) {
    // Clients that left on their own need no wave: stop waiting once everybody is gone.
    if (sessions.every((session) => session.isClosed)) return;
    if (wave > 0) await delay(waveMs);
    const members = sessions.filter((_, index) => index % waves === wave);
    for (const session of members) {
      // Within a wave the reconnects are spread over the wave's own interval.
      const afterMs = Math.floor(Math.random() * waveMs);
      session.enqueue(encodeEdgeFrame({ op: "reconnect", afterMs }));
      session.close(CloseCode.Draining, `edge draining; reconnect in ${afterMs} ms`);
    }
  }
}
