/*
 * cfgpool._cfgpool.Pool: a cfgpool_pool_t driven from Python. The package's cfgpool.Pool
 * (python/cfgpool/__init__.py) adds submit's futures and the thread that completes them.
 *
 * Converting one item. Input: the object is written as JSON by the library's writer
 * (convert.c) with the GIL held, then, without the GIL, the text is loaded as a small
 * frozen tree and the kernel's codec decodes it into the kernel's input struct. Output:
 * without the GIL, the codec encodes the output through a writer and the loader reads that
 * text back into a frozen tree; with the GIL the tree becomes a dict. That is what
 * `cfgpool run` does with a line, so an input gets the same answer here as there.
 *
 * Shared state of a PoolObject, and what protects it:
 *   pool, kernel      written by __init__ before the object is shared, then read-only
 *                     until close, which frees the pool only once `active` is 0
 *   state, active     mu (and cv: signalled when active drops to 0)
 *   done, pending     mu (cv: signalled when a completed task is queued, or on close);
 *                     written by the pool's completion callbacks on worker threads
 * Lock order: the GIL is never acquired while mu is held (mu is taken with the GIL held
 * or released, and released before anything that could wait for the GIL).
 *
 * Lifetime. Every call that uses the pool or its kernel's codec (map, submit, reload,
 * config, stats) counts itself in `active` before it releases the GIL; close first shuts
 * the pool down (no new call reaches it), waits for `active` to drop to 0, and only then
 * closes it, so no call and no codec (a plug-in's code is unloaded at close) runs on a
 * freed pool. Submitted tasks are encoded on the thread that ran them, in their
 * completion callback, which runs before cfgpool_pool_close() returns.
 */
#include "binding.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/words.h" /* the command's wording of per-item errors */

enum { POOL_OPEN, POOL_CLOSING, POOL_CLOSED };

/* An item's message: room for a whole cfgpool_error_t, as the command's lines have. */
#define ITEM_MSG 640

enum { ERR_NONE, ERR_INPUT, ERR_KERNEL, ERR_RESULT };

struct PoolObject;

/* One submitted task, from submit until its future is set. */
struct task {
	struct task *next;        /* in the done list, under mu */
	PyObject *future;         /* a strong reference, touched only with the GIL */
	struct PoolObject *owner;
	cfgpool_result_t result;
	cfgpool_config_t *value;  /* the encoded output read back, or NULL */
	int error_kind;           /* ERR_* */
	int error_code;
	char message[ITEM_MSG];
	_Alignas(max_align_t) unsigned char data[]; /* input (in_size bytes), then output */
};

typedef struct PoolObject {
	PyObject_HEAD
	cfgpool_pool_t *pool;
	const cfgpool_kernel_t *kernel;
	PyObject *kernel_obj; /* the cfgpool.Kernel whose table the pool runs, or NULL: kept until closed */
	size_t in_size; /* the input size rounded up to max_align_t: where a task's output starts */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
	unsigned active;
	struct task *done, **done_tail;
	size_t pending; /* tasks submitted whose future has not been handed back yet */
	PyObject *weakreflist;
} PoolObject;

static void lock(PoolObject *p)
{
	if (pthread_mutex_lock(&p->mu) != 0)
		abort();
}

static void unlock(PoolObject *p)
{
	pthread_mutex_unlock(&p->mu);
}

/* Counts a call in `active`, or raises ClosedError. With the GIL. */
static int enter(PoolObject *p)
{
	int state;

	lock(p);
	state = p->pool == NULL ? POOL_CLOSED : p->state;
	if (state == POOL_OPEN)
		p->active++;
	unlock(p);
	if (state != POOL_OPEN) {
		cfgpy_raise_code(cfgpy_ClosedError, -ESHUTDOWN, "the pool is closed");
		return -1;
	}
	return 0;
}

static void leave(PoolObject *p)
{
	lock(p);
	if (--p->active == 0)
		pthread_cond_broadcast(&p->cv);
	unlock(p);
}

/*
 * Decodes the JSON text of one input into `input` (zeroed first). 0, or a code with the
 * message and the field. No GIL needed.
 */
static int decode_text(const cfgpool_kernel_t *k, const char *text, size_t len, void *input, char *msg,
		       size_t size, char *field, size_t field_size)
{
	cfgpool_config_t *cfg;
	cfgpool_error_t err;
	int rc;

	cfgpool_error_init(&err);
	rc = cfgpool_config_load_string(text, len, NULL, &cfg, &err);
	if (rc != 0) {
		snprintf(msg, size, "cannot read the input: %s (%s)", err.text, cfgpool_err_name(rc));
		return rc;
	}
	memset(input, 0, k->input_size);
	cfgpool_error_init(&err);
	rc = k->codec->decode(k->arg, cfgpool_config_root(cfg), input, &err);
	if (rc != 0) {
		rc = rc < 0 ? rc : -EINVAL;
		cli_decode_error(k, rc, &err, msg, size);
		snprintf(field, field_size, "%s", err.path);
	}
	cfgpool_config_free(cfg);
	return rc;
}

/*
 * Encodes one output and reads it back as a frozen tree in *value. 0, or a code with the
 * message ("result field std_error is not finite (nan)"). No GIL needed.
 */
static int encode_output(const cfgpool_kernel_t *k, cfgpool_writer_t *w, const void *output,
			 cfgpool_config_t **value, char *msg, size_t size)
{
	cfgpool_error_t err;
	const char *text;
	size_t len;
	int rc;

	cfgpool_writer_reset(w);
	rc = cfgpool_write_object_begin(w);
	if (rc == 0)
		rc = k->codec->encode(k->arg, output, w);
	if (rc == 0)
		rc = cfgpool_write_object_end(w);
	if (rc != 0) {
		cli_encode_error(k, w, rc, msg, size);
		return rc < 0 ? rc : -EINVAL;
	}
	text = cfgpool_writer_text(w, &len);
	cfgpool_error_init(&err);
	rc = cfgpool_config_load_string(text, len, NULL, value, &err);
	if (rc != 0)
		snprintf(msg, size, "result could not be read back: %s (%s)", err.text, cfgpool_err_name(rc));
	return rc;
}

/* The Python value of an encoded output; frees its tree. */
static PyObject *take_value(cfgpool_config_t *cfg)
{
	PyObject *v = cfgpy_node_to_python(cfgpool_config_root(cfg));

	cfgpool_config_free(cfg);
	return v;
}

/* The error of an input refused before it reached the kernel, from its message and field. */
static void input_message(const struct cfgpy_conv_error *e, char *msg, size_t size, char *field, size_t field_size)
{
	snprintf(field, field_size, "%s", e->path);
	if (e->path[0] != '\0')
		snprintf(msg, size, "field \"%s\": %s", e->path, e->text);
	else
		snprintf(msg, size, "%s", e->text);
}

/* A ClosedError for a refusal of the pool's, a cfgpool.Error for anything else. */
static void raise_refusal(int rc)
{
	if (rc == -ESHUTDOWN)
		cfgpy_raise_code(cfgpy_ClosedError, rc, "the pool is closed");
	else if (rc == CFGPOOL_EFORKED)
		cfgpy_raise_code(cfgpy_ClosedError, rc, "the pool belongs to the parent process");
	else
		cfgpy_raise_code(cfgpy_Error, rc, cfgpool_strerror(rc));
}

/* --- open ----------------------------------------------------------------------------------- */

static PyObject *pool_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	PoolObject *p = (PoolObject *)type->tp_alloc(type, 0);

	if (p == NULL)
		return NULL;
	if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->cv, NULL) != 0)
		abort(); /* neither can fail with default attributes on Linux */
	p->done_tail = &p->done;
	p->state = POOL_OPEN;
	return (PyObject *)p;
}

/* An optional positive option: None leaves it unset (0). */
static int unsigned_opt(PyObject *v, const char *name, unsigned *out)
{
	unsigned long n;

	if (v == NULL || v == Py_None)
		return 0;
	n = PyLong_AsUnsignedLong(v);
	if (n == (unsigned long)-1 && PyErr_Occurred())
		return -1;
	if (n == 0 || n > 0xffffffffu) {
		PyErr_Format(PyExc_ValueError, "%s must be a positive integer", name);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

/* opts.cpus from a sequence of ints, in PyMem memory the caller frees. */
static int cpus_opt(PyObject *cpus, cfgpool_pool_opts_t *opts, int **list)
{
	PyObject *seq;

	*list = NULL;
	if (cpus == NULL || cpus == Py_None)
		return 0;
	seq = PySequence_Fast(cpus, "cpus must be a sequence of CPU numbers");
	if (seq == NULL)
		return -1;
	opts->ncpus = (size_t)PySequence_Fast_GET_SIZE(seq);
	*list = PyMem_Calloc(opts->ncpus + 1, sizeof(int));
	if (*list == NULL) {
		Py_DECREF(seq);
		PyErr_NoMemory();
		return -1;
	}
	for (size_t i = 0; i < opts->ncpus; i++) {
		long c = PyLong_AsLong(PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i));

		if (c == -1 && PyErr_Occurred()) {
			Py_DECREF(seq);
			return -1;
		}
		/* Out of int's range is out of the affinity mask's too: the library says which. */
		(*list)[i] = c < -1 ? -1 : c > 1 << 20 ? 1 << 20 : (int)c;
	}
	Py_DECREF(seq);
	opts->cpus = *list;
	return 0;
}

static int pool_init(PoolObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"config", "workers", "cpus", "pin", "queue_capacity", "section", "kernel", NULL};
	PyObject *config, *workers = NULL, *cpus = NULL, *pin = NULL, *capacity = NULL, *path = NULL, *kobj = NULL;
	const cfgpool_kernel_t *table = NULL;
	const char *section = NULL;
	cfgpool_pool_opts_t opts = {0};
	cfgpool_pool_t *pool = NULL;
	cfgpool_error_t err;
	int *cpu_list = NULL, rc;
	char *text = NULL;
	size_t len = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$OOOOzO:Pool", kwlist, &config, &workers, &cpus, &pin,
					 &capacity, &section, &kobj))
		return -1;
	if (kobj == Py_None)
		kobj = NULL;
	if (kobj != NULL) {
		if (!PyObject_TypeCheck(kobj, &cfgpy_KernelType) || (table = cfgpy_kernel_table(kobj)) == NULL) {
			PyErr_SetString(PyExc_TypeError, "kernel must be a cfgpool.Kernel");
			return -1;
		}
	}
	if (p->pool != NULL || p->state != POOL_OPEN) {
		PyErr_SetString(PyExc_RuntimeError, "Pool.__init__ called twice");
		return -1;
	}
	if (unsigned_opt(workers, "workers", &opts.workers) != 0 ||
	    unsigned_opt(capacity, "queue_capacity", &opts.queue_capacity) != 0)
		return -1;
	if (pin != NULL && pin != Py_None)
		opts.pin = PyObject_IsTrue(pin) ? 1 : -1;
	opts.section = section;
	if (cpus_opt(cpus, &opts, &cpu_list) != 0) {
		PyMem_Free(cpu_list);
		return -1;
	}
	if (PyDict_Check(config))
		text = cfgpy_document_text(config, &len);
	else
		PyUnicode_FSConverter(config, &path);
	if (text == NULL && path == NULL) {
		PyMem_Free(cpu_list);
		return -1;
	}
	cfgpool_error_init(&err);
	Py_BEGIN_ALLOW_THREADS
	if (text != NULL)
		rc = cfgpool_pool_open_string(text, len, table, &opts, &pool, &err);
	else
		rc = cfgpool_pool_open_file(PyBytes_AS_STRING(path), table, &opts, &pool, &err);
	Py_END_ALLOW_THREADS
	free(text);
	Py_XDECREF(path);
	PyMem_Free(cpu_list);
	if (rc != 0) {
		if (err.code != 0)
			cfgpy_raise_config_error(rc, &err);
		else
			cfgpy_raise_code(cfgpy_Error, rc, cfgpool_strerror(rc));
		return -1;
	}
	p->pool = pool;
	p->kernel = cfgpool_pool_kernel(pool);
	Py_XINCREF(kobj);
	p->kernel_obj = kobj;
	p->in_size = (p->kernel->input_size + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1);
	return 0;
}

/* --- close ---------------------------------------------------------------------------------- */

/* Shuts the pool down, waits for the calls in flight, closes it. Without the GIL. */
static void close_pool(PoolObject *p, int how)
{
	cfgpool_pool_shutdown(p->pool);
	lock(p);
	while (p->active > 0)
		pthread_cond_wait(&p->cv, &p->mu);
	unlock(p);
	/* Every accepted task completes in here, its callback (task_done) included. */
	cfgpool_pool_close(p->pool, how);
	lock(p);
	p->pool = NULL;
	p->state = POOL_CLOSED;
	pthread_cond_broadcast(&p->cv); /* the completer: nothing more will be queued */
	unlock(p);
}

static PyObject *pool_close(PoolObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"cancel", NULL};
	int cancel = 0, state;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$p:close", kwlist, &cancel))
		return NULL;
	lock(p);
	state = p->pool == NULL ? POOL_CLOSED : p->state;
	if (state == POOL_OPEN)
		p->state = POOL_CLOSING;
	unlock(p);
	if (state != POOL_OPEN)
		Py_RETURN_NONE; /* closed, never opened, or being closed by another thread */
	Py_BEGIN_ALLOW_THREADS
	close_pool(p, cancel ? CFGPOOL_CLOSE_CANCEL : CFGPOOL_CLOSE_DRAIN);
	Py_END_ALLOW_THREADS
	Py_RETURN_NONE;
}

static void drop_tasks(struct task *t)
{
	while (t != NULL) {
		struct task *next = t->next;

		Py_XDECREF(t->future);
		cfgpool_config_free(t->value);
		PyMem_RawFree(t);
		t = next;
	}
}

static int pool_traverse(PoolObject *p, visitproc visit, void *arg)
{
	return 0; /* the futures of tasks in flight are held, not traversed: the pool will answer them */
}

static void pool_dealloc(PoolObject *p)
{
	PyObject_GC_UnTrack(p);
	if (p->weakreflist != NULL)
		PyObject_ClearWeakRefs((PyObject *)p);
	if (p->state == POOL_OPEN && p->pool != NULL) {
		p->state = POOL_CLOSING;
		Py_BEGIN_ALLOW_THREADS
		close_pool(p, CFGPOOL_CLOSE_DRAIN);
		Py_END_ALLOW_THREADS
	}
	drop_tasks(p->done);
	Py_CLEAR(p->kernel_obj); /* the pool that ran its table is closed: nothing runs it any more */
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	Py_TYPE(p)->tp_free((PyObject *)p);
}

/* --- map ------------------------------------------------------------------------------------ */

struct item {
	char *text; /* the input as JSON, malloc'ed; NULL once decoded, or when it failed */
	size_t len;
	int kind;   /* ERR_* */
	int code;
	size_t slot; /* its index among the inputs that reached the kernel */
	cfgpool_config_t *value;
	char field[CFGPOOL_ERROR_PATH_LEN];
	char message[ITEM_MSG];
};

/* Phase 1, with the GIL: every input as JSON text, or its conversion error. */
static int write_inputs(PyObject *seq, struct item *items, size_t n, cfgpool_writer_t *w)
{
	struct cfgpy_conv_error e;
	const char *text;

	for (size_t i = 0; i < n; i++) {
		PyObject *obj = PySequence_Fast_GET_ITEM(seq, (Py_ssize_t)i);
		int rc;

		cfgpool_writer_reset(w);
		if (!PyDict_Check(obj)) {
			items[i].kind = ERR_INPUT;
			items[i].code = CFGPOOL_ETYPE;
			snprintf(items[i].message, sizeof(items[i].message), "expected a dict, got %s",
				 Py_TYPE(obj)->tp_name);
			continue;
		}
		rc = cfgpy_write_object(w, obj, &e);
		if (rc == -ENOMEM && PyErr_Occurred())
			return -1;
		if (rc != 0) {
			items[i].kind = ERR_INPUT;
			items[i].code = rc;
			input_message(&e, items[i].message, sizeof(items[i].message), items[i].field,
				      sizeof(items[i].field));
			continue;
		}
		text = cfgpool_writer_text(w, &items[i].len);
		items[i].text = malloc(items[i].len + 1);
		if (items[i].text == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		memcpy(items[i].text, text, items[i].len + 1);
	}
	return 0;
}

/*
 * Phase 2, without the GIL: decode, run the batch, encode. Returns map's code (0 or
 * CFGPOOL_EKERNEL), a refusal (-ESHUTDOWN, ...) or -ENOMEM.
 */
static int run_items(PoolObject *p, struct item *items, size_t n, cfgpool_writer_t *w, cfgpool_result_t *results)
{
	const cfgpool_kernel_t *k = p->kernel;
	unsigned char *in, *out;
	size_t valid = 0;
	int rc;

	in = calloc(n ? n : 1, k->input_size ? k->input_size : 1);
	out = calloc(n ? n : 1, k->output_size ? k->output_size : 1);
	if (in == NULL || out == NULL) {
		free(in);
		free(out);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (items[i].kind != ERR_NONE)
			continue;
		rc = decode_text(k, items[i].text, items[i].len, in + valid * k->input_size, items[i].message,
				 sizeof(items[i].message), items[i].field, sizeof(items[i].field));
		free(items[i].text);
		items[i].text = NULL;
		if (rc != 0) {
			items[i].kind = ERR_INPUT;
			items[i].code = rc;
			continue;
		}
		items[i].slot = valid++;
	}
	rc = cfgpool_pool_map(p->pool, in, 0, out, 0, valid, results, 0);
	for (size_t i = 0; (rc == 0 || rc == CFGPOOL_EKERNEL) && i < n; i++) {
		const cfgpool_result_t *r = &results[items[i].slot];
		int erc;

		if (items[i].kind != ERR_NONE)
			continue;
		if (r->status != 0) {
			items[i].kind = ERR_KERNEL;
			items[i].code = r->status;
			cli_kernel_error(k, r->status, items[i].message, sizeof(items[i].message));
			continue;
		}
		erc = encode_output(k, w, out + items[i].slot * k->output_size, &items[i].value, items[i].message,
				    sizeof(items[i].message));
		if (erc != 0) {
			items[i].kind = ERR_RESULT;
			items[i].code = erc;
		}
	}
	free(in);
	free(out);
	return rc;
}

static PyObject *error_type(int kind)
{
	return kind == ERR_INPUT ? cfgpy_InputError : kind == ERR_KERNEL ? cfgpy_KernelError : cfgpy_ResultError;
}

/* Phase 3, with the GIL: the list of Results. */
static PyObject *results_of(struct item *items, size_t n, const cfgpool_result_t *results)
{
	PyObject *list = PyList_New((Py_ssize_t)n);

	for (size_t i = 0; list != NULL && i < n; i++) {
		const cfgpool_result_t *res = items[i].kind == ERR_INPUT ? NULL : &results[items[i].slot];
		PyObject *value = NULL, *error = NULL, *r;

		if (items[i].kind == ERR_NONE) {
			value = take_value(items[i].value);
			items[i].value = NULL;
		} else {
			error = cfgpy_item_error(error_type(items[i].kind), items[i].code, items[i].message,
						 items[i].kind == ERR_INPUT && items[i].field[0] ? items[i].field : NULL);
		}
		r = value != NULL || error != NULL ? cfgpy_result_new(value, error, res) : NULL;
		Py_XDECREF(value);
		Py_XDECREF(error);
		if (r == NULL)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)i, r);
	}
	return list;
}

static int need_codec(PoolObject *p)
{
	if (p->kernel->codec != NULL)
		return 0;
	PyErr_Format(cfgpy_Error, "kernel %s has no JSON codec: use map_array()", p->kernel->name);
	return -1;
}

static PyObject *pool_map(PoolObject *p, PyObject *inputs)
{
	PyObject *seq, *list = NULL;
	cfgpool_result_t *results = NULL;
	cfgpool_writer_t *w = NULL;
	struct item *items = NULL;
	size_t n;
	int rc;

	if (enter(p) != 0)
		return NULL;
	if (need_codec(p) != 0) {
		leave(p);
		return NULL;
	}
	seq = PySequence_Fast(inputs, "map() takes an iterable of dicts");
	if (seq == NULL) {
		leave(p);
		return NULL;
	}
	n = (size_t)PySequence_Fast_GET_SIZE(seq);
	items = PyMem_RawCalloc(n ? n : 1, sizeof(*items));
	results = PyMem_RawCalloc(n ? n : 1, sizeof(*results));
	if (items == NULL || results == NULL || cfgpool_writer_create(0, &w) != 0) {
		PyErr_NoMemory();
		goto out;
	}
	if (write_inputs(seq, items, n, w) != 0)
		goto out;
	Py_BEGIN_ALLOW_THREADS
	rc = run_items(p, items, n, w, results);
	Py_END_ALLOW_THREADS
	if (rc == 0 || rc == CFGPOOL_EKERNEL)
		list = results_of(items, n, results);
	else
		raise_refusal(rc);
out:
	for (size_t i = 0; items != NULL && i < n; i++) {
		free(items[i].text);
		cfgpool_config_free(items[i].value);
	}
	PyMem_RawFree(items);
	PyMem_RawFree(results);
	cfgpool_writer_destroy(w);
	Py_DECREF(seq);
	leave(p);
	return list;
}

/* map_into(inputs, outputs, results): the kernel's structs straight from and into buffers. */
static PyObject *pool_map_into(PoolObject *p, PyObject *args)
{
	Py_buffer in = {0}, out = {0}, res = {0};
	PyObject *ret = NULL;
	size_t n;
	int rc;

	if (!PyArg_ParseTuple(args, "y*w*w*:map_into", &in, &out, &res))
		return NULL;
	if (enter(p) != 0)
		goto out;
	n = (size_t)res.len / sizeof(cfgpool_result_t);
	if ((size_t)res.len != n * sizeof(cfgpool_result_t) || (size_t)in.len != n * p->kernel->input_size ||
	    (size_t)out.len != n * p->kernel->output_size) {
		PyErr_Format(PyExc_ValueError,
			     "map_into: buffers of %zd, %zd and %zd bytes do not hold the same number of items "
			     "(input %zu, output %zu and result %zu bytes an item)",
			     in.len, out.len, res.len, p->kernel->input_size, p->kernel->output_size,
			     sizeof(cfgpool_result_t));
	} else {
		Py_BEGIN_ALLOW_THREADS
		rc = cfgpool_pool_map(p->pool, in.buf, 0, out.buf, 0, n, res.buf, 0);
		Py_END_ALLOW_THREADS
		if (rc == 0 || rc == CFGPOOL_EKERNEL)
			ret = PyBool_FromLong(rc == 0);
		else
			raise_refusal(rc);
	}
	leave(p);
out:
	PyBuffer_Release(&in);
	PyBuffer_Release(&out);
	PyBuffer_Release(&res);
	return ret;
}

/* --- submit --------------------------------------------------------------------------------- */

/* The pool's completion callback, on the thread that ran the task: encode, then hand over. */
static void task_done(void *arg, void *output, const cfgpool_result_t *result)
{
	struct task *t = arg;
	PoolObject *p = t->owner;
	cfgpool_writer_t *w;

	t->result = *result;
	if (result->status != 0) {
		t->error_kind = ERR_KERNEL;
		t->error_code = result->status;
		cli_kernel_error(p->kernel, result->status, t->message, sizeof(t->message));
	} else if (cfgpool_writer_create(0, &w) != 0) {
		t->error_kind = ERR_RESULT;
		t->error_code = -ENOMEM;
		snprintf(t->message, sizeof(t->message), "result could not be encoded: out of memory");
	} else {
		int rc = encode_output(p->kernel, w, output, &t->value, t->message, sizeof(t->message));

		if (rc != 0) {
			t->error_kind = ERR_RESULT;
			t->error_code = rc;
		}
		cfgpool_writer_destroy(w);
	}
	lock(p);
	*p->done_tail = t;
	p->done_tail = &t->next;
	pthread_cond_broadcast(&p->cv);
	unlock(p);
}

/*
 * _submit(input, future): queues the input, whose Result (or cancellation) the completer
 * thread gives `future`. Returns None once queued, or the Result with the InputError when
 * the input is refused before it is queued (the caller sets it on the future).
 */
static PyObject *pool_submit(PoolObject *p, PyObject *args)
{
	char field[CFGPOOL_ERROR_PATH_LEN] = "", msg[ITEM_MSG];
	struct cfgpy_conv_error e;
	PyObject *input, *future;
	cfgpool_writer_t *w = NULL;
	struct task *t;
	const char *text;
	size_t len;
	int rc;

	if (!PyArg_ParseTuple(args, "OO:submit", &input, &future))
		return NULL;
	if (enter(p) != 0)
		return NULL;
	if (need_codec(p) != 0) {
		leave(p);
		return NULL;
	}
	t = PyMem_RawCalloc(1, sizeof(*t) + p->in_size + p->kernel->output_size);
	if (t == NULL || cfgpool_writer_create(0, &w) != 0) {
		PyMem_RawFree(t);
		leave(p);
		return PyErr_NoMemory();
	}
	if (!PyDict_Check(input)) {
		rc = CFGPOOL_ETYPE;
		snprintf(msg, sizeof(msg), "expected a dict, got %s", Py_TYPE(input)->tp_name);
	} else if ((rc = cfgpy_write_object(w, input, &e)) != 0) {
		if (rc == -ENOMEM && PyErr_Occurred()) {
			cfgpool_writer_destroy(w);
			PyMem_RawFree(t);
			leave(p);
			return NULL;
		}
		input_message(&e, msg, sizeof(msg), field, sizeof(field));
	} else {
		text = cfgpool_writer_text(w, &len);
		rc = decode_text(p->kernel, text, len, t->data, msg, sizeof(msg), field, sizeof(field));
	}
	cfgpool_writer_destroy(w);
	if (rc != 0) {
		PyObject *error = cfgpy_item_error(cfgpy_InputError, rc, msg, field[0] ? field : NULL), *r = NULL;

		if (error != NULL)
			r = cfgpy_result_new(NULL, error, NULL);
		Py_XDECREF(error);
		PyMem_RawFree(t);
		leave(p);
		return r;
	}
	t->owner = p;
	t->future = Py_NewRef(future);
	lock(p);
	p->pending++;
	unlock(p);
	/* Submit waits for room when the queue is full: the workers need no GIL to make it. */
	Py_BEGIN_ALLOW_THREADS
	rc = cfgpool_pool_submit(p->pool, t->data, t->data + p->in_size, task_done, t, 0);
	Py_END_ALLOW_THREADS
	if (rc != 0) {
		lock(p);
		p->pending--;
		unlock(p);
		Py_DECREF(t->future);
		PyMem_RawFree(t);
		leave(p);
		raise_refusal(rc);
		return NULL;
	}
	leave(p);
	Py_RETURN_NONE;
}

/* The (future, Result or None when cancelled) pair of a completed task. */
static PyObject *completion(struct task *t)
{
	PyObject *value = NULL, *error = NULL, *r, *pair;

	if (t->error_kind == ERR_KERNEL && t->error_code == -ECANCELED)
		return PyTuple_Pack(2, t->future, Py_None);
	if (t->error_kind == ERR_NONE) {
		value = take_value(t->value);
		t->value = NULL;
	} else {
		error = cfgpy_item_error(error_type(t->error_kind), t->error_code, t->message, NULL);
	}
	r = value != NULL || error != NULL ? cfgpy_result_new(value, error, &t->result) : NULL;
	Py_XDECREF(value);
	Py_XDECREF(error);
	pair = r != NULL ? PyTuple_Pack(2, t->future, r) : NULL;
	Py_XDECREF(r);
	return pair;
}

/*
 * _completions(): waits (without the GIL) until submitted tasks have completed and returns
 * them as a list of (future, Result or None when cancelled); None once the pool is closed
 * and every task has been handed back. For the package's completer thread.
 */
static PyObject *pool_completions(PoolObject *p, PyObject *unused)
{
	struct task *batch;
	size_t count = 0;
	PyObject *list;

	Py_BEGIN_ALLOW_THREADS
	lock(p);
	while (p->done == NULL && !(p->state == POOL_CLOSED && p->pending == 0))
		pthread_cond_wait(&p->cv, &p->mu);
	batch = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	for (struct task *t = batch; t != NULL; t = t->next)
		count++;
	p->pending -= count;
	unlock(p);
	Py_END_ALLOW_THREADS
	if (batch == NULL)
		Py_RETURN_NONE;
	list = PyList_New((Py_ssize_t)count);
	count = 0;
	for (struct task *t = batch; list != NULL && t != NULL; t = t->next, count++) {
		PyObject *pair = completion(t);

		if (pair == NULL)
			Py_CLEAR(list);
		else
			PyList_SET_ITEM(list, (Py_ssize_t)count, pair);
	}
	drop_tasks(batch);
	return list;
}

/* --- reload, config, accessors --------------------------------------------------------------- */

static PyObject *pool_reload(PoolObject *p, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"config", "sync", NULL};
	PyObject *config, *path = NULL;
	uint64_t version = 0;
	cfgpool_error_t err;
	char *text = NULL;
	int sync = 0, rc;
	unsigned flags;
	size_t len = 0;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$p:reload", kwlist, &config, &sync))
		return NULL;
	if (PyDict_Check(config))
		text = cfgpy_document_text(config, &len);
	else
		PyUnicode_FSConverter(config, &path);
	if (text == NULL && path == NULL)
		return NULL;
	if (enter(p) != 0) {
		free(text);
		Py_XDECREF(path);
		return NULL;
	}
	flags = sync ? CFGPOOL_RELOAD_SYNC : 0;
	cfgpool_error_init(&err);
	Py_BEGIN_ALLOW_THREADS
	if (text != NULL)
		rc = cfgpool_pool_reload_string(p->pool, text, len, flags, &version, &err);
	else
		rc = cfgpool_pool_reload_file(p->pool, PyBytes_AS_STRING(path), flags, &version, &err);
	Py_END_ALLOW_THREADS
	leave(p);
	free(text);
	Py_XDECREF(path);
	if (rc == -ESHUTDOWN || rc == CFGPOOL_EFORKED) {
		raise_refusal(rc);
		return NULL;
	}
	if (rc != 0) {
		cfgpy_raise_config_error(rc, &err);
		return NULL;
	}
	return PyLong_FromUnsignedLongLong(version);
}

/* config(): a frozen copy of the current configuration, with its version. */
static PyObject *pool_config(PoolObject *p, PyObject *unused)
{
	const cfgpool_holder_t *h;
	const cfgpool_config_t *snap;
	cfgpool_config_t *copy = NULL;
	cfgpool_writer_t *w;
	cfgpool_error_t err;
	uint64_t version;
	const char *text;
	size_t len;
	int rc;

	if (enter(p) != 0)
		return NULL;
	if (cfgpool_writer_create(CFGPOOL_DEFAULT_MAX_SIZE, &w) != 0) {
		leave(p);
		return PyErr_NoMemory();
	}
	cfgpool_error_init(&err);
	h = cfgpool_pool_holder(p->pool);
	Py_BEGIN_ALLOW_THREADS
	/* The snapshot is read inside one read-side section and copied out of it. */
	snap = cfgpool_holder_read_begin(h);
	version = cfgpool_config_version(snap);
	rc = cfgpy_write_node(w, cfgpool_config_root(snap));
	cfgpool_holder_read_end(h);
	if (rc == 0) {
		text = cfgpool_writer_text(w, &len);
		rc = cfgpool_config_load_string(text, len, NULL, &copy, &err);
	}
	Py_END_ALLOW_THREADS
	cfgpool_writer_destroy(w);
	leave(p);
	if (rc != 0) {
		cfgpy_raise_code(cfgpy_Error, rc, "the configuration could not be copied");
		return NULL;
	}
	return cfgpy_config_wrap(copy, version);
}

static int dict_set(PyObject *d, const char *key, uint64_t v)
{
	PyObject *o = PyLong_FromUnsignedLongLong(v);
	int rc = o != NULL ? PyDict_SetItemString(d, key, o) : -1;

	Py_XDECREF(o);
	return rc;
}

static PyObject *stats_dict(const cfgpool_pool_stats_t *st, const cfgpool_worker_stats_t *ws, unsigned nw,
			    uint64_t version)
{
	PyObject *d = PyDict_New(), *workers = PyList_New(0);

	if (d == NULL || workers == NULL || dict_set(d, "submitted", st->submitted) ||
	    dict_set(d, "completed", st->completed) || dict_set(d, "failed", st->failed) ||
	    dict_set(d, "cancelled", st->cancelled) || dict_set(d, "timed_out", st->timed_out) ||
	    dict_set(d, "caller_tasks", st->caller_tasks) || dict_set(d, "queue_high_water", st->queue_high_water) ||
	    dict_set(d, "parks", st->parks) || dict_set(d, "wakes", st->wakes) || dict_set(d, "reloads", st->reloads) ||
	    dict_set(d, "reload_failures", st->reload_failures) || dict_set(d, "config_version", version))
		goto fail;
	for (unsigned i = 0; i < nw && i < st->workers; i++) {
		PyObject *w = Py_BuildValue("{s:i,s:K,s:K,s:K,s:K}", "cpu", ws[i].cpu, "tasks",
					    (unsigned long long)ws[i].tasks, "busy_us",
					    (unsigned long long)(ws[i].busy_ns / 1000), "parks",
					    (unsigned long long)ws[i].parks, "wakes", (unsigned long long)ws[i].wakes);

		if (w == NULL || PyList_Append(workers, w) != 0) {
			Py_XDECREF(w);
			goto fail;
		}
		Py_DECREF(w);
	}
	if (PyDict_SetItemString(d, "workers", workers) != 0)
		goto fail;
	Py_DECREF(workers);
	return d;
fail:
	Py_XDECREF(d);
	Py_XDECREF(workers);
	return NULL;
}

static PyObject *pool_stats(PoolObject *p, PyObject *unused)
{
	cfgpool_worker_stats_t *ws;
	cfgpool_pool_stats_t st;
	PyObject *d;
	unsigned nw;

	if (enter(p) != 0)
		return NULL;
	nw = cfgpool_pool_workers(p->pool);
	ws = PyMem_Calloc(nw ? nw : 1, sizeof(*ws));
	if (ws == NULL) {
		leave(p);
		return PyErr_NoMemory();
	}
	cfgpool_pool_stats(p->pool, &st, ws, nw);
	d = stats_dict(&st, ws, nw, cfgpool_pool_version(p->pool));
	PyMem_Free(ws);
	leave(p);
	return d;
}

static PyObject *version_of(PoolObject *p)
{
	return PyLong_FromUnsignedLongLong(cfgpool_pool_version(p->pool));
}

static PyObject *workers_of(PoolObject *p)
{
	return PyLong_FromUnsignedLong(cfgpool_pool_workers(p->pool));
}

static PyObject *kernel_of(PoolObject *p)
{
	return PyUnicode_FromString(p->kernel->name);
}

static PyObject *sizes_of(PoolObject *p)
{
	return Py_BuildValue("(nn)", (Py_ssize_t)p->kernel->input_size, (Py_ssize_t)p->kernel->output_size);
}

/* A getter: `read` of the open pool, counted in `active` so that close waits for it. */
static PyObject *pool_get(PoolObject *p, void *closure)
{
	PyObject *(*read)(PoolObject *) = (PyObject * (*)(PoolObject *)) closure;
	PyObject *v;

	if (enter(p) != 0)
		return NULL;
	v = read(p);
	leave(p);
	return v;
}

static PyObject *pool_closed(PoolObject *p, void *closure)
{
	int state;

	lock(p);
	state = p->pool == NULL ? POOL_CLOSED : p->state;
	unlock(p);
	return PyBool_FromLong(state != POOL_OPEN);
}

static PyMethodDef pool_methods[] = {
	{"map", (PyCFunction)pool_map, METH_O,
	 "map(inputs)\n--\n\nRuns the kernel on every input (dicts, as the JSON lines of `cfgpool run`) and "
	 "returns a list of Result, in input order. The GIL is released while the pool computes."},
	{"map_into", (PyCFunction)pool_map_into, METH_VARARGS,
	 "map_into(inputs, outputs, results)\n--\n\nRuns the kernel on the input structs of one buffer into two "
	 "others (cfgpool_pool_map() over buffers); True when every item succeeded."},
	{"_submit", (PyCFunction)pool_submit, METH_VARARGS, NULL},
	{"_completions", (PyCFunction)pool_completions, METH_NOARGS, NULL},
	{"reload", (PyCFunction)(void (*)(void))pool_reload, METH_VARARGS | METH_KEYWORDS,
	 "reload(config, *, sync=False)\n--\n\nReloads from a path or a dict while work runs; returns the new "
	 "version, or raises ConfigError and keeps the old configuration."},
	{"config", (PyCFunction)pool_config, METH_NOARGS,
	 "config()\n--\n\nA frozen copy of the current configuration (a Config whose .version is its version)."},
	{"stats", (PyCFunction)pool_stats, METH_NOARGS, "stats()\n--\n\nThe pool's counters, as a dict."},
	{"_close", (PyCFunction)(void (*)(void))pool_close, METH_VARARGS | METH_KEYWORDS, NULL},
	{NULL},
};

static PyGetSetDef pool_getset[] = {
	{"version", (getter)pool_get, NULL, "the current configuration version", (void *)version_of},
	{"workers", (getter)pool_get, NULL, "the number of worker threads", (void *)workers_of},
	{"kernel", (getter)pool_get, NULL, "the name of the kernel the pool runs", (void *)kernel_of},
	{"struct_sizes", (getter)pool_get, NULL, "(input_size, output_size) of the kernel's structs", (void *)sizes_of},
	{"closed", (getter)pool_closed, NULL, "whether close() has started", NULL},
	{NULL},
};

PyTypeObject cfgpy_PoolType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cfgpool._cfgpool.Pool",
	.tp_doc = "The C half of cfgpool.Pool.",
	.tp_basicsize = sizeof(PoolObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
	.tp_new = pool_new,
	.tp_init = (initproc)pool_init,
	.tp_dealloc = (destructor)pool_dealloc,
	.tp_traverse = (traverseproc)pool_traverse,
	.tp_weaklistoffset = offsetof(PoolObject, weakreflist),
	.tp_methods = pool_methods,
	.tp_getset = pool_getset,
};
