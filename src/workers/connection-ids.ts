// Connection ids with worker threads: each thread's connection table numbers its connections in
// a range of its own, so that one id names one connection in the whole process, and says which
// thread holds it (the admin API ends a connection by id there). The main thread keeps range 0
// (1, 2, 3 ... as with one loop; the kernel's nat and dsr ids are below 10^12 too); a worker's
// range starts at its lane × 10^12 (1000000000001 ...). Each thread started takes the next lane,
// so a thread that replaces a dead one does not give out the ids its predecessor gave.

const LANE_SIZE = 1e12;
/** Lanes 1 .. LANES-1 are the workers': more than the 256 threads a process may run, and every id stays below 10^15 (the API's 15 digits). */
export const LANES = 512;

/** The lane of an id: 0 for the main thread's (and the kernel's) connections. */
export function laneOf(id: number): number {
  return Math.floor(id / LANE_SIZE);
}

/** The id a worker's table starts after (ConnectionTable.idsFrom). */
export function firstIdOf(lane: number): number {
  return lane * LANE_SIZE;
}
