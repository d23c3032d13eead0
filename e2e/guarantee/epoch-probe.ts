// Loaded with --import into a spawned embedded edge (tests only): prints the embedded log's epoch
// when it starts, and on SIGUSR2 re-creates the log (EmbeddedBackend.recreate: the embedded
// equivalent of deleting and re-creating the stream, live feeds included) and prints the new one.
// One JSON line each: {"event":"guarantee_epoch","epoch":...}.
import { EmbeddedBackend } from "../../edge/backend/embedded/embedded-backend.js";

let backend: EmbeddedBackend | undefined;
const print = (epoch: string) =>
  process.stdout.write(`${JSON.stringify({ event: "guarantee_epoch", epoch })}\n`);

const start = EmbeddedBackend.prototype.start;
EmbeddedBackend.prototype.start = async function (this: EmbeddedBackend) {
  await start.call(this);
  remember(this);
};

function remember(instance: EmbeddedBackend): void {
  backend = instance;
  print(instance.epoch());
}

process.on("SIGUSR2", () => {
  if (!backend) return;
  backend.recreate();
  print(backend.epoch());
});
