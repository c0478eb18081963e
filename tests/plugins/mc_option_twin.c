/*
 * The built-in mc_option kernel as a plug-in: the same source (src/kernels/mc_option.c and
 * the helpers it shares with the other built-in kernels), compiled into a shared object
 * that exports the plug-in entry point. tests/check_plugin_twin.sh checks that it gives the
 * built-in kernel's results bit for bit through `cfgpool run`; perf/bench_plugin.sh measures
 * both side by side (lines per second), which is the cost of the plug-in path itself.
 */
#include <cfgpool/cfgpool.h>

#include "kernels.h"

CFGPOOL_PLUGIN(cfgpool__kernel_mc_option)
