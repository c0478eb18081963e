/*
 * cfgpool._cfgpool, the CPython extension under the `cfgpool` package: shared declarations
 * of its files. It uses the library's public API only (<cfgpool/cfgpool.h>).
 *
 *  module.c   the module, its exceptions and the Result type
 *  convert.c  Python objects to JSON text through the library's writer, frozen nodes to
 *             Python objects: the one path every input, output and document takes
 *  config.c   cfgpool.Config and cfgpool.ConfigArray, read-only views of a frozen tree
 *  pool.c     cfgpool._cfgpool.Pool: map, submit's C half, reload, stats, close
 *  kernel.c   cfgpool._cfgpool.Kernel: a native run function (numba.cfunc) with dtype structs
 *
 * Every function here that takes or returns a PyObject runs with the GIL held; those that
 * run without it say so.
 */
#ifndef CFGPOOL_PYTHON_BINDING_H
#define CFGPOOL_PYTHON_BINDING_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cfgpool/cfgpool.h>

/* The exceptions (module.c); new references owned by the module. */
extern PyObject *cfgpy_Error;       /* cfgpool.Error: base of all, attributes code and errname */
extern PyObject *cfgpy_ConfigError; /* a document or option refused: file, line, column, path, ... */
extern PyObject *cfgpy_ClosedError; /* the pool is closed (also a RuntimeError) */
extern PyObject *cfgpy_ItemError;   /* base of the per-item errors a Result carries */
extern PyObject *cfgpy_InputError;  /* the input could not be converted or decoded (also a ValueError) */
extern PyObject *cfgpy_KernelError; /* the kernel's run failed on the item */
extern PyObject *cfgpy_ResultError; /* the output could not be encoded (a non-finite number, ...) */

extern PyTypeObject cfgpy_ResultType;
extern PyTypeObject cfgpy_ConfigType;
extern PyTypeObject cfgpy_ConfigArrayType;
extern PyTypeObject cfgpy_PoolType;
extern PyTypeObject cfgpy_KernelType;

/* Raises cfgpool.ConfigError from a filled cfgpool_error_t (code `rc` if err->code is 0). */
void cfgpy_raise_config_error(int rc, const cfgpool_error_t *err);

/* Raises cfgpool.Error (or `type`) with the code's message and name. */
void cfgpy_raise_code(PyObject *type, int rc, const char *what);

/* A per-item error instance of `type` with message, code, errname and field (may be NULL). */
PyObject *cfgpy_item_error(PyObject *type, int code, const char *message, const char *field);

/*
 * A cfgpool.Result: value (a new reference is taken; may be NULL for None), error (the
 * same), the configuration version the item ran against (0: it never ran), its elapsed
 * time and the thread that ran it.
 */
PyObject *cfgpy_result_new(PyObject *value, PyObject *error, const cfgpool_result_t *res);

/* --- convert.c ----------------------------------------------------------------------------- */

/* Where a conversion of a Python object to JSON failed: code, JSON path, message. */
struct cfgpy_conv_error {
	int code;
	char path[CFGPOOL_ERROR_PATH_LEN];
	char text[CFGPOOL_ERROR_TEXT_LEN];
};

/*
 * Writes `obj` as one JSON value through `w`: None, bool, int, float,
 * str, dict with str keys, list and tuple, and objects with __index__ (numpy integers) as
 * integers (int64: the frozen tree holds no wider integer). Returns 0, or a negative code with `e` saying where (the JSON path, in the
 * library's syntax) and why: -EINVAL for a type with no JSON form or a key that is not a
 * str, -ERANGE for an integer outside int64, -EDOM for a non-finite float, -EILSEQ for a
 * str that cannot be UTF-8, -ELOOP past CFGPOOL_MAX_DEPTH, the writer's other errors.
 * Never leaves a Python exception set but for MemoryError (then -ENOMEM).
 */
int cfgpy_write_object(cfgpool_writer_t *w, PyObject *obj, struct cfgpy_conv_error *e);

/*
 * A document (dict) as JSON text, malloc'ed (*len bytes, NUL-terminated), for the loader.
 * NULL with cfgpool.ConfigError raised (source "<dict>", the path of the bad value).
 */
char *cfgpy_document_text(PyObject *doc, size_t *len);

/* The node as a new Python object: None, bool, int, float, str, list, dict (document order). */
PyObject *cfgpy_node_to_python(const cfgpool_node_t *node);

/* Writes the node through `w` (the same JSON it was loaded from, as values). No GIL needed. */
int cfgpy_write_node(cfgpool_writer_t *w, const cfgpool_node_t *node);

/* --- config.c ------------------------------------------------------------------------------ */

/* A Config owning `cfg` (freed with it); `version` is what Config.version reports. */
PyObject *cfgpy_config_wrap(cfgpool_config_t *cfg, uint64_t version);

/* --- kernel.c ------------------------------------------------------------------------------ */

/* The kernel table of a cfgpool._cfgpool.Kernel (owned by it), NULL if it was never initialised. */
const cfgpool_kernel_t *cfgpy_kernel_table(PyObject *kernel);

#endif /* CFGPOOL_PYTHON_BINDING_H */
