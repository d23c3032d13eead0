import test from "ava";
import { drainWindowMs } from "./server.js";

test("the drain takes connections/rate seconds at HERALD_DRAIN_RATE, never more than the window", (t) => {
  t.is(drainWindowMs(20_000, 60, 500), 40_000, "20,000 connections at 500/s: 40 s");
  t.is(drainWindowMs(100_000, 60, 500), 60_000, "capped by the window (the grace period covers it)");
  t.is(drainWindowMs(10, 60, 500), 20, "a few connections drain at once");
  t.is(drainWindowMs(0, 60, 500), 0);
  t.is(drainWindowMs(20_000, 60, 0), 60_000, "no rate: spread over the whole window");
});
