// Herald demo: a raw herald.v1 WebSocket client (no build step). Subscribes to one topic at a time,
// shows each message with its seq, publishes from the form, and after a lost connection resumes
// from the last seq it saw, so nothing published meanwhile is missed.
const $ = (id) => document.getElementById(id);
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;

let ws;
let topic = null;
let position = null; // {epoch, seq} of the last message shown: where a reconnect resumes
let nextId = 1;
let retryMs = 500;

function connect() {
  ws = new WebSocket(wsUrl, "herald.v1");
  ws.onopen = () => {
    retryMs = 500;
    setStatus("connected", true);
    if (topic) subscribe(topic, position ? { epoch: position.epoch, seq: position.seq } : { last: 20 });
  };
  // The edge may batch several frames into one WebSocket message, one per line.
  ws.onmessage = (event) => event.data.split("\n").filter(Boolean).forEach((line) => handle(JSON.parse(line)));
  ws.onclose = (event) => {
    setStatus(`disconnected (${event.code}${event.reason ? ": " + event.reason : ""}); reconnecting…`, false);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

function handle(frame) {
  switch (frame.op) {
    case "subok":
      if (frame.topic !== topic) return;
      position = { epoch: frame.epoch, seq: frame.seq };
      say(frame.recovered ? "" : "could not resume from the last position; continuing from the newest message");
      return;
    case "msg":
      if (frame.topic !== topic) return;
      position = { epoch: position?.epoch ?? "", seq: frame.seq };
      show(frame);
      return;
    case "ack":
      if (frame.seq !== undefined) say(`published as seq ${frame.seq}${frame.dup ? " (duplicate)" : ""}`);
      return;
    case "err":
      say(`${frame.code}: ${frame.message}`);
      return;
    case "reconnect":
      retryMs = frame.afterMs;
      return;
  }
}

function subscribe(name, from) {
  ws.send(JSON.stringify({ op: "sub", topic: name, id: nextId++, from }));
}

function show(message) {
  const row = document.createElement("tr");
  const cells = [message.topic, message.seq, message.prev, new Date(message.ts).toLocaleTimeString(), JSON.stringify(message.data)];
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

function say(text) {
  $("log").textContent = text;
}

$("subscribe-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("topic").value.trim();
  if (!name || name === topic) return;
  if (topic && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ op: "unsub", topic, id: nextId++ }));
  topic = name;
  position = null;
  $("messages").replaceChildren();
  if (ws.readyState === WebSocket.OPEN) subscribe(topic, { last: 20 });
});

$("publish-form").addEventListener("submit", (event) => {
  event.preventDefault();
  if (!topic) return say("subscribe to a topic first");
  const text = $("data").value;
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    data = text;
  }
  ws.send(JSON.stringify({ op: "pub", topic, data, id: nextId++ }));
  $("data").value = "";
});

topic = $("topic").value.trim() || null;
connect();
