/*
 * cfgpool — one immutable configuration shared by a pool of pinned workers.
 *
 * This is the umbrella header: `#include <cfgpool/cfgpool.h>` is all a user writes.
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Fallible calls return 0 on success or a negative error code: a negative errno
 *    (-EINVAL, -ENOMEM, -ENOENT, ...) or one of the CFGPOOL_E* codes defined here, which
 *    lie outside errno's range. cfgpool_strerror() and cfgpool_err_name() name every code.
 *  - Objects are opaque and created through an out-parameter; on failure the
 *    out-parameter is left untouched.
 *  - Pointers into a configuration (nodes, strings, prepared parameters) are borrowed:
 *    they stay valid for as long as the cfgpool_config_t they came from. For a snapshot
 *    taken from a holder that means: until the caller's read-side section ends.
 */
#ifndef CFGPOOL_CFGPOOL_H
#define CFGPOOL_CFGPOOL_H

/* One concept a header, each compiling alone; they include each other one way only. */
#include <cfgpool/version.h>
#include <cfgpool/error.h>  /* codes, messages, cfgpool_error_t */
#include <cfgpool/config.h> /* the frozen tree, load options, preparers, paths, getters */
#include <cfgpool/holder.h> /* publication through RCU */
#include <cfgpool/codec.h>  /* JSON codecs of kernels' inputs and outputs, the writer */
#include <cfgpool/kernel.h> /* the kernel interface and the built-in kernels */
#include <cfgpool/pool.h>   /* the pool */
#include <cfgpool/plugin.h> /* kernels as shared objects: the plug-in ABI */

#endif /* CFGPOOL_CFGPOOL_H */
