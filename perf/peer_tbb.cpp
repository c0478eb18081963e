// oneTBB as a peer of perf/bench_regimes (perf/peer_tbb.h): what a C++ programmer would
// write for "run these 8 tasks on all cores and wait", at its best setting. A task_arena
// sized like the other peers' pools; a batch is one parallel_for with grain 1 and the
// simple_partitioner, so every item is its own task and idle workers steal them while the
// calling thread runs items itself (a batch of tiny tasks is often over before a worker has
// woken up, and then ran on the caller alone, which is TBB's design, not a fault of the
// harness). A stream is a task_group fed one task at a time. Exceptions stop here: a
// failure inside TBB aborts with its message, since the benchmark cannot go on without the
// peer it is measuring.
#include "peer_tbb.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>
#include <oneapi/tbb/version.h>

struct peer_tbb {
	oneapi::tbb::global_control limit;
	oneapi::tbb::task_arena arena;

	explicit peer_tbb(unsigned threads)
		: limit(oneapi::tbb::global_control::max_allowed_parallelism, threads), arena(static_cast<int>(threads))
	{
		arena.initialize();
	}
};

[[noreturn]] static void fail(const char *what, const std::exception &e)
{
	std::fprintf(stderr, "bench_regimes: tbb: %s: %s\n", what, e.what());
	std::abort();
}

extern "C" int peer_tbb_open(unsigned threads, struct peer_tbb **out)
{
	try {
		*out = new peer_tbb(threads < 1 ? 1 : threads);
		return 0;
	} catch (const std::bad_alloc &) {
		return -ENOMEM;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "bench_regimes: tbb: %s\n", e.what());
		return -EAGAIN;
	}
}

extern "C" void peer_tbb_batch(struct peer_tbb *p, size_t n, peer_tbb_fn fn, void *arg)
{
	try {
		p->arena.execute([&] {
			oneapi::tbb::parallel_for(
				oneapi::tbb::blocked_range<size_t>(0, n, 1),
				[&](const oneapi::tbb::blocked_range<size_t> &r) {
					for (size_t i = r.begin(); i != r.end(); ++i)
						fn(arg, i);
				},
				oneapi::tbb::simple_partitioner());
		});
	} catch (const std::exception &e) {
		fail("parallel_for", e);
	}
}

extern "C" void peer_tbb_stream(struct peer_tbb *p, size_t n, peer_tbb_fn fn, void *arg)
{
	try {
		p->arena.execute([&] {
			oneapi::tbb::task_group group;

			for (size_t i = 0; i < n; ++i)
				group.run([fn, arg, i] { fn(arg, i); });
			group.wait();
		});
	} catch (const std::exception &e) {
		fail("task_group", e);
	}
}

extern "C" void peer_tbb_close(struct peer_tbb *p)
{
	delete p;
}

extern "C" const char *peer_tbb_version(void)
{
	return TBB_VERSION_STRING;
}
