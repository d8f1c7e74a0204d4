/**
 * A local-pool worker's stop request, set up before anything else of the worker loads
 * (pool-worker.ts imports this module first): a terminal's Ctrl-C reaches the whole
 * process group, also a worker still loading its modules, which must not die of it.
 *
 * One SIGINT or SIGTERM asks the running job to stop at its next checkpoint (the pool
 * forwards the parent's as a `stop` message too); a second one exits at once (the exit
 * releases the run's lock). A worker whose parent is gone stops the same way.
 */
export const interruption = { requested: false };

let signals = 0;
for (const s of ['SIGINT', 'SIGTERM'] as const) {
  process.on(s, () => {
    if (++signals > 1) process.exit(s === 'SIGTERM' ? 143 : 130);
    interruption.requested = true;
  });
}
process.on('disconnect', () => {
  interruption.requested = true;
});
