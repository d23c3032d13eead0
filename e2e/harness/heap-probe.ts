// Loaded with --import into a spawned edge that runs with --expose-gc (tests only): on SIGUSR2 it
// collects garbage and prints one JSON line with the memory in use, so a test can compare heaps.
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => {
  gc?.();
  gc?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ event: "heap_probe", heapUsed, arrayBuffers, gc: gc !== undefined })}\n`,
  );
});
