/*
 * cfgpool._cfgpool.Kernel: a kernel whose `run` is native code made from Python (a
 * numba.cfunc, or any C function at an address) and whose structs are described by NumPy
 * dtypes. The package's cfgpool.Kernel builds it from the dtypes.
 *
 * The native function is called as  int32 run(const void *params, const void *input,
 * void *output)  on the pool's workers, with no GIL: it must not need the interpreter (a
 * numba cfunc compiled in nopython mode does not). `params` is the kernel section compiled
 * by this kernel's prepare into one struct of the params dtype: every field of the dtype is
 * a required member of the section, read once per load or reload. The codec is made from
 * the dtypes too: decode reads each field of the input dtype from the member of that name,
 * encode writes each field of the output dtype, so dicts go through Pool.map and arrays of
 * the dtypes through Pool.map_array.
 *
 * Lifetime: the table is inside the Kernel object, which also holds the cfunc object (its
 * machine code); a Pool holds the Kernel until it has closed, and configurations loaded
 * with its preparer belong to that pool.
 */
#include "binding.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One field of a flat struct: its name, kind ('f' float, 'i' signed, 'u' unsigned, 'b' bool), size, offset. */
struct field {
	char name[64];
	char kind;
	size_t size;
	size_t offset;
};

struct layout {
	struct field *fields;
	size_t n;
	size_t size;
};

typedef struct {
	PyObject_HEAD
	cfgpool_kernel_t table;
	cfgpool_codec_t codec;
	int (*fn)(const void *params, const void *input, void *output);
	PyObject *keep; /* what owns fn's code (the cfunc object) */
	struct layout in, out, params;
	char name[64];
} KernelObject;

/* The integer of `size` bytes at p, sign-extended or not (a uint64 comes back as its bits). */
static int64_t load_int(const unsigned char *p, size_t size, bool is_signed)
{
	int8_t b;
	int16_t h;
	int32_t w;
	int64_t v;

	switch (size) {
	case 1:
		memcpy(&b, p, 1);
		return is_signed ? (int64_t)b : (int64_t)(uint8_t)b;
	case 2:
		memcpy(&h, p, 2);
		return is_signed ? (int64_t)h : (int64_t)(uint16_t)h;
	case 4:
		memcpy(&w, p, 4);
		return is_signed ? (int64_t)w : (int64_t)(uint32_t)w;
	default:
		memcpy(&v, p, 8);
		return v;
	}
}

/* Stores v (already checked to fit) as an integer of `size` bytes at p. */
static void store_int(unsigned char *p, size_t size, int64_t v)
{
	int8_t b = (int8_t)v;
	int16_t h = (int16_t)v;
	int32_t w = (int32_t)v;

	memcpy(p, size == 1 ? (const void *)&b : size == 2 ? (const void *)&h : size == 4 ? (const void *)&w : (const void *)&v,
	       size);
}

static int read_field(const cfgpool_node_t *obj, const struct field *f, const char *prefix, void *base,
		      cfgpool_error_t *err)
{
	char path[CFGPOOL_ERROR_PATH_LEN];
	unsigned char *p = (unsigned char *)base + f->offset;
	const cfgpool_node_t *v;
	int64_t i;
	double d;
	bool b;

	snprintf(path, sizeof(path), "%s%s", prefix, f->name);
	if (obj == NULL || cfgpool_object_get(obj, f->name, strlen(f->name), &v) != 0)
		return cfgpool_error_set(err, -ENOENT, path, "expected %s", f->kind == 'f' ? "a number" :
						 f->kind == 'b' ? "true or false" : "an integer");
	switch (f->kind) {
	case 'f':
		if (cfgpool_get_double(v, NULL, &d) != 0)
			return cfgpool_error_set(err, CFGPOOL_ETYPE, path, "expected a number");
		if (f->size == sizeof(float)) {
			float x = (float)d;

			memcpy(p, &x, sizeof(x));
		} else {
			memcpy(p, &d, sizeof(d));
		}
		return 0;
	case 'b':
		if (cfgpool_get_bool(v, NULL, &b) != 0)
			return cfgpool_error_set(err, CFGPOOL_ETYPE, path, "expected true or false");
		*p = b;
		return 0;
	default:
		if (cfgpool_get_int(v, NULL, &i) != 0)
			return cfgpool_error_set(err, CFGPOOL_ETYPE, path, "expected an integer");
		if (f->kind == 'u' && i < 0)
			return cfgpool_error_set(err, -ERANGE, path, "expected an integer >= 0");
		if (f->size < 8) {
			int64_t lo = f->kind == 'u' ? 0 : -((int64_t)1 << (8 * f->size - 1));
			int64_t hi = f->kind == 'u' ? ((int64_t)1 << (8 * f->size)) - 1 : ((int64_t)1 << (8 * f->size - 1)) - 1;

			if (i < lo || i > hi)
				return cfgpool_error_set(err, -ERANGE, path, "expected an integer from %lld to %lld",
							 (long long)lo, (long long)hi);
		}
		store_int(p, f->size, i);
		return 0;
	}
}

static int read_struct(const struct layout *l, const cfgpool_node_t *obj, const char *prefix, void *base,
		       cfgpool_error_t *err)
{
	for (size_t k = 0; k < l->n; k++) {
		int rc = read_field(obj, &l->fields[k], prefix, base, err);

		if (rc != 0)
			return rc;
	}
	return 0;
}

static int write_field(cfgpool_writer_t *w, const struct field *f, const void *base)
{
	const unsigned char *p = (const unsigned char *)base + f->offset;
	int rc = cfgpool_write_key(w, f->name);

	if (rc != 0)
		return rc;
	if (f->kind == 'f') {
		if (f->size == sizeof(float)) {
			float x;

			memcpy(&x, p, sizeof(x));
			return cfgpool_write_double(w, x);
		}
		double d;

		memcpy(&d, p, sizeof(d));
		return cfgpool_write_double(w, d);
	}
	if (f->kind == 'b')
		return cfgpool_write_bool(w, *p != 0);
	if (f->kind == 'u')
		return cfgpool_write_uint(w, (uint64_t)load_int(p, f->size, false));
	return cfgpool_write_int(w, load_int(p, f->size, true));
}

static int k_decode(void *arg, const cfgpool_node_t *in, void *input, cfgpool_error_t *err)
{
	KernelObject *k = arg;

	return read_struct(&k->in, in, "", input, err);
}

static int k_encode(void *arg, const void *output, cfgpool_writer_t *w)
{
	KernelObject *k = arg;

	for (size_t i = 0; i < k->out.n; i++) {
		int rc = write_field(w, &k->out.fields[i], output);

		if (rc != 0)
			return rc;
	}
	return 0;
}

static int k_prepare(void *arg, const cfgpool_node_t *section, const cfgpool_node_t *root, void **params,
		     cfgpool_error_t *err)
{
	KernelObject *k = arg;
	void *block = calloc(1, k->params.size ? k->params.size : 1);
	int rc;

	if (block == NULL)
		return cfgpool_error_set(err, -ENOMEM, "kernel", "out of memory");
	rc = read_struct(&k->params, section, "kernel.", block, err);
	if (rc != 0) {
		free(block);
		return rc;
	}
	*params = block;
	return 0;
}

static void k_release(void *params)
{
	free(params);
}

static int k_run(const cfgpool_task_ctx_t *ctx, const void *input, void *output)
{
	const KernelObject *k = ctx->arg;
	int rc = k->fn(ctx->params, input, output);

	return rc > 0 ? -EINVAL : rc; /* a status is 0 or negative */
}

/* A layout from [(name, kind, size, offset), ...] and its itemsize. */
static int parse_layout(PyObject *fields, Py_ssize_t size, struct layout *l)
{
	PyObject *seq = PySequence_Fast(fields, "fields must be a sequence of (name, kind, size, offset)");
	Py_ssize_t n;

	if (seq == NULL)
		return -1;
	n = PySequence_Fast_GET_SIZE(seq);
	l->fields = PyMem_Calloc((size_t)n + 1, sizeof(*l->fields));
	l->n = (size_t)n;
	l->size = (size_t)size;
	if (l->fields == NULL) {
		Py_DECREF(seq);
		PyErr_NoMemory();
		return -1;
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		struct field *f = &l->fields[i];
		const char *name;
		Py_ssize_t fsize, offset;
		int kind;

		if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "sCnn", &name, &kind, &fsize, &offset))
			goto fail;
		if (strlen(name) >= sizeof(f->name) || strchr("fiub", kind) == NULL ||
		    (kind == 'f' && fsize != 4 && fsize != 8) || (kind == 'b' && fsize != 1) ||
		    (fsize != 1 && fsize != 2 && fsize != 4 && fsize != 8) || offset < 0 || offset + fsize > size) {
			PyErr_Format(PyExc_ValueError, "field %s: kind %c of %zd bytes at %zd does not fit a struct of %zd",
				     name, kind, fsize, offset, size);
			goto fail;
		}
		snprintf(f->name, sizeof(f->name), "%s", name);
		f->kind = (char)kind;
		f->size = (size_t)fsize;
		f->offset = (size_t)offset;
	}
	Py_DECREF(seq);
	return 0;
fail:
	Py_DECREF(seq);
	return -1;
}

static int kernel_init(KernelObject *k, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"name", "address", "keep", "input", "input_size", "output", "output_size",
				 "params", "params_size", NULL};
	PyObject *in, *out, *params, *keep, *address;
	Py_ssize_t in_size, out_size, params_size;
	const char *name;
	void *fn;

	if (k->fn != NULL) {
		PyErr_SetString(PyExc_RuntimeError, "Kernel.__init__ called twice");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kwds, "sOOOnOnOn:Kernel", kwlist, &name, &address, &keep, &in, &in_size,
					 &out, &out_size, &params, &params_size))
		return -1;
	fn = PyLong_AsVoidPtr(address);
	if (fn == NULL) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_ValueError, "Kernel: the run function's address is 0");
		return -1;
	}
	if (strlen(name) == 0 || strlen(name) >= sizeof(k->name)) {
		PyErr_SetString(PyExc_ValueError, "Kernel: a name of 1 to 63 bytes is needed");
		return -1;
	}
	if (parse_layout(in, in_size, &k->in) != 0 || parse_layout(out, out_size, &k->out) != 0 ||
	    parse_layout(params, params_size, &k->params) != 0)
		return -1;
	snprintf(k->name, sizeof(k->name), "%s", name);
	*(void **)&k->fn = fn;
	k->keep = Py_NewRef(keep);
	k->codec = (cfgpool_codec_t){.example = NULL, .decode = k_decode, .encode = k_encode};
	k->table = (cfgpool_kernel_t){
		.name = k->name,
		.input_size = (size_t)in_size,
		.output_size = (size_t)out_size,
		.release = k_release,
		.run = k_run,
		.arg = k,
		.prepare_arg = k_prepare,
		.codec = &k->codec,
	};
	return 0;
}

static void kernel_dealloc(KernelObject *k)
{
	PyObject_GC_UnTrack(k);
	Py_CLEAR(k->keep);
	PyMem_Free(k->in.fields);
	PyMem_Free(k->out.fields);
	PyMem_Free(k->params.fields);
	Py_TYPE(k)->tp_free((PyObject *)k);
}

static int kernel_traverse(KernelObject *k, visitproc visit, void *arg)
{
	Py_VISIT(k->keep);
	return 0;
}

static PyObject *kernel_name(KernelObject *k, void *closure)
{
	return PyUnicode_FromString(k->name);
}

static PyGetSetDef kernel_getset[] = {
	{"name", (getter)kernel_name, NULL, "the kernel's name (the configuration's kernel.name, if given, must be it)",
	 NULL},
	{NULL},
};

const cfgpool_kernel_t *cfgpy_kernel_table(PyObject *obj)
{
	KernelObject *k = (KernelObject *)obj;

	return k->fn != NULL ? &k->table : NULL;
}

PyTypeObject cfgpy_KernelType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cfgpool._cfgpool.Kernel",
	.tp_doc = "The C half of cfgpool.Kernel: a native run function and the layouts of its structs.",
	.tp_basicsize = sizeof(KernelObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)kernel_init,
	.tp_dealloc = (destructor)kernel_dealloc,
	.tp_traverse = (traverseproc)kernel_traverse,
	.tp_getset = kernel_getset,
};
