// Herald demo, on the client SDK (/client.js, built from client/ by `npm run build:client`).
// Subscribes to one topic at a time (starting with its last 20 messages), shows each message with
// its seq, and publishes from the form. The SDK reconnects and resumes by itself, so nothing
// published while the connection was down is missed, and nothing is shown twice or out of order.
import { HeraldClient } from "/client.js";

const $ = (id) => document.getElementById(id);
const client = new HeraldClient({ url: location.origin });
let subscription = null;

const STATES = {
  connecting: ["connecting…", false],
  open: ["connected", true],
  reconnecting: ["disconnected; reconnecting…", false],
  suspended: ["offline for a while; still trying…", false],
  disconnected: ["disconnected", false],
  closed: ["closed", false],
};
client.on("state", (state) => setStatus(...STATES[state]));
client.on("error", (error) => {
  if (client.state !== "open") say(error.message);
});

function subscribe(topic) {
  subscription?.unsubscribe();
  $("messages").replaceChildren();
  say("");
  try {
    subscription = client.subscribe(topic, { from: { last: 20 } }, show);
  } catch (error) {
    subscription = null;
    return say(error.message);
  }
  subscription.on("resync", () =>
    say("could not resume from the last position; continuing from the newest message"),
  );
  subscription.on("error", (error) => say(`${error.code}: ${error.message}`));
}

function show(message) {
  const row = document.createElement("tr");
  const cells = [
    message.topic,
    message.seq,
    message.prev,
    new Date(message.ts).toLocaleTimeString(),
    JSON.stringify(message.data),
  ];
  for (const value of cells) {
    const cell = document.createElement("td");
    cell.textContent = String(value);
    row.append(cell);
  }
  row.lastChild.className = "data";
  $("messages").prepend(row);
}

function setStatus(text, up) {
  $("status").textContent = text;
  $("status").className = up ? "up" : "down";
}

/** One line under the form: a problem (red) or, with `ok`, a confirmation (green). */
function say(text, ok = false) {
  $("log").textContent = text;
  $("log").className = ok ? "ok" : "";
}

$("subscribe-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const topic = $("topic").value.trim();
  if (topic && topic !== subscription?.topic) subscribe(topic);
});

$("publish-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!subscription) return say("subscribe to a topic first");
  const text = $("data").value;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  $("data").value = "";
  try {
    const { seq, dup } = await client.publish(subscription.topic, data);
    say(`published as seq ${seq}${dup ? " (duplicate)" : ""}`, true);
  } catch (error) {
    say(`${error.code ?? "error"}: ${error.message}`);
  }
});

const initial = $("topic").value.trim();
if (initial) subscribe(initial);
