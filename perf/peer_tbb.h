/*
 * oneTBB as a peer of perf/bench_regimes, behind a C interface (perf/peer_tbb.cpp is C++;
 * no exception crosses this boundary). Built only when configure finds libtbb-dev
 * (HAVE_TBB).
 */
#ifndef CFGPOOL_PEER_TBB_H
#define CFGPOOL_PEER_TBB_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One task: run item i of the caller's work. Called on any of the arena's threads. */
typedef void (*peer_tbb_fn)(void *arg, size_t i);

struct peer_tbb;

/*
 * A task_arena of `threads` slots (the calling thread takes one, threads - 1 workers the
 * others), with the global thread limit raised to `threads` so that more than the CPUs can
 * be asked for. Returns 0 or a negative errno (-ENOMEM, -EAGAIN when oneTBB throws).
 */
int peer_tbb_open(unsigned threads, struct peer_tbb **out);

/* Runs fn(arg, 0..n) as one parallel_for (grain 1, simple_partitioner) inside the arena;
 * the caller runs items too and returns when all n are done. */
void peer_tbb_batch(struct peer_tbb *p, size_t n, peer_tbb_fn fn, void *arg);

/* Submits fn(arg, i) one task at a time to a task_group inside the arena, then waits for
 * all n (the waiting caller runs tasks too). */
void peer_tbb_stream(struct peer_tbb *p, size_t n, peer_tbb_fn fn, void *arg);

void peer_tbb_close(struct peer_tbb *p);

/* TBB_VERSION_STRING of the headers built against, e.g. "2021.8". */
const char *peer_tbb_version(void);

#ifdef __cplusplus
}
#endif

#endif /* CFGPOOL_PEER_TBB_H */
