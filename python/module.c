/*
 * The module cfgpool._cfgpool: its exceptions, the Result type, the layouts of the built-in
 * kernels' structs (for NumPy dtypes) and the library's version. The package cfgpool
 * (python/cfgpool/__init__.py) re-exports all of it.
 */
#include "binding.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <structmember.h>

PyObject *cfgpy_Error, *cfgpy_ConfigError, *cfgpy_ClosedError, *cfgpy_ItemError, *cfgpy_InputError,
	*cfgpy_KernelError, *cfgpy_ResultError;

/* Sets attributes on an exception instance; 0 or -1 with an exception set. */
static int set_attr(PyObject *exc, const char *name, PyObject *value)
{
	int rc;

	if (value == NULL)
		return -1;
	rc = PyObject_SetAttrString(exc, name, value);
	Py_DECREF(value);
	return rc;
}

static int set_code(PyObject *exc, int code)
{
	if (set_attr(exc, "code", PyLong_FromLong(code)) != 0)
		return -1;
	return set_attr(exc, "errname", PyUnicode_FromString(cfgpool_err_name(code)));
}

void cfgpy_raise_config_error(int rc, const cfgpool_error_t *err)
{
	char msg[CFGPOOL_ERROR_SOURCE_LEN + CFGPOOL_ERROR_PATH_LEN + CFGPOOL_ERROR_TEXT_LEN + 64];
	int code = err->code != 0 ? err->code : rc;
	PyObject *exc;

	cfgpool_error_format(err, msg, sizeof(msg));
	exc = PyObject_CallFunction(cfgpy_ConfigError, "s", msg);
	if (exc == NULL)
		return;
	if (set_code(exc, code) != 0 ||
	    set_attr(exc, "file", PyUnicode_DecodeUTF8(err->source, (Py_ssize_t)strlen(err->source), "replace")) != 0 ||
	    set_attr(exc, "line", PyLong_FromLong(err->line)) != 0 ||
	    set_attr(exc, "column", PyLong_FromLong(err->column)) != 0 ||
	    set_attr(exc, "position", PyLong_FromLong(err->position)) != 0 ||
	    set_attr(exc, "path", PyUnicode_DecodeUTF8(err->path, (Py_ssize_t)strlen(err->path), "replace")) != 0 ||
	    set_attr(exc, "text", PyUnicode_DecodeUTF8(err->text, (Py_ssize_t)strlen(err->text), "replace")) != 0) {
		Py_DECREF(exc);
		return;
	}
	PyErr_SetObject(cfgpy_ConfigError, exc);
	Py_DECREF(exc);
}

void cfgpy_raise_code(PyObject *type, int rc, const char *what)
{
	PyObject *exc;

	if (rc == -ENOMEM) {
		PyErr_NoMemory();
		return;
	}
	exc = PyObject_CallFunction(type != NULL ? type : cfgpy_Error, "s", what);
	if (exc == NULL)
		return;
	if (set_code(exc, rc) == 0)
		PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
	Py_DECREF(exc);
}

PyObject *cfgpy_item_error(PyObject *type, int code, const char *message, const char *field)
{
	PyObject *exc = PyObject_CallFunction(type, "s", message);

	if (exc == NULL)
		return NULL;
	if (set_code(exc, code) != 0 ||
	    set_attr(exc, "field", field != NULL ? PyUnicode_FromString(field) : Py_NewRef(Py_None)) != 0)
		Py_CLEAR(exc);
	return exc;
}

/* --- Result ------------------------------------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	PyObject *value;
	PyObject *error;
	unsigned long long version;
	double elapsed_us;
	unsigned worker;
} ResultObject;

PyObject *cfgpy_result_new(PyObject *value, PyObject *error, const cfgpool_result_t *res)
{
	ResultObject *r = PyObject_GC_New(ResultObject, &cfgpy_ResultType);

	if (r == NULL)
		return NULL;
	r->value = Py_NewRef(value != NULL ? value : Py_None);
	r->error = Py_NewRef(error != NULL ? error : Py_None);
	r->version = res != NULL ? res->version : 0;
	r->elapsed_us = res != NULL ? (double)res->elapsed_ns / 1000.0 : 0.0;
	r->worker = res != NULL ? res->worker : 0;
	PyObject_GC_Track(r);
	return (PyObject *)r;
}

static int result_traverse(ResultObject *r, visitproc visit, void *arg)
{
	Py_VISIT(r->value);
	Py_VISIT(r->error);
	return 0;
}

static int result_clear(ResultObject *r)
{
	Py_CLEAR(r->value);
	Py_CLEAR(r->error);
	return 0;
}

static void result_dealloc(ResultObject *r)
{
	PyObject_GC_UnTrack(r);
	result_clear(r);
	PyObject_GC_Del(r);
}

static PyObject *result_ok(ResultObject *r, void *closure)
{
	return PyBool_FromLong(r->error == Py_None);
}

static PyObject *result_get(ResultObject *r, PyObject *unused)
{
	if (r->error != Py_None) {
		PyErr_SetObject((PyObject *)Py_TYPE(r->error), r->error);
		return NULL;
	}
	return Py_NewRef(r->value);
}

static PyObject *result_repr(ResultObject *r)
{
	if (r->error != Py_None)
		return PyUnicode_FromFormat("cfgpool.Result(error=%R, config_version=%llu)", r->error, r->version);
	return PyUnicode_FromFormat("cfgpool.Result(value=%R, config_version=%llu)", r->value, r->version);
}

static PyMemberDef result_members[] = {
	{"value", T_OBJECT, offsetof(ResultObject, value), READONLY,
	 "the kernel's output as the codec encodes it (a dict), None when the item failed"},
	{"error", T_OBJECT, offsetof(ResultObject, error), READONLY,
	 "None, or the item's error: an InputError, KernelError or ResultError instance"},
	{"config_version", T_ULONGLONG, offsetof(ResultObject, version), READONLY,
	 "the configuration version the item ran against; 0 when it never ran"},
	{"elapsed_us", T_DOUBLE, offsetof(ResultObject, elapsed_us), READONLY, "the kernel's time on the item, in us"},
	{"worker", T_UINT, offsetof(ResultObject, worker), READONLY,
	 "the thread that ran it: a worker index, or >= 0x40000000 for a thread helping in map"},
	{NULL},
};

static PyGetSetDef result_getset[] = {
	{"ok", (getter)result_ok, NULL, "True when the item has a value", NULL},
	{NULL},
};

static PyMethodDef result_methods[] = {
	{"get", (PyCFunction)result_get, METH_NOARGS, "get()\n--\n\nThe value, or raise the item's error."},
	{NULL},
};

PyTypeObject cfgpy_ResultType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cfgpool.Result",
	.tp_doc = "The answer for one input: value or error, and the configuration version it ran against.",
	.tp_basicsize = sizeof(ResultObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_dealloc = (destructor)result_dealloc,
	.tp_traverse = (traverseproc)result_traverse,
	.tp_clear = (inquiry)result_clear,
	.tp_repr = (reprfunc)result_repr,
	.tp_members = result_members,
	.tp_getset = result_getset,
	.tp_methods = result_methods,
};

/* --- the built-in kernels' structs, for NumPy dtypes ---------------------------------------- */

/* ("name", "f8", offset) for one member: its kind and size from the compiler. */
#define KIND(v)                                                                                       \
	_Generic((v), double: 'f', float: 'f', signed char: 'i', short: 'i', int: 'i', long: 'i', long long: 'i', \
		 default: 'u')
#define FIELD(type, member)                                                                             \
	Py_BuildValue("(sNn)", #member,                                                                 \
		      PyUnicode_FromFormat("%c%d", KIND(((type *)0)->member), (int)sizeof(((type *)0)->member)), \
		      (Py_ssize_t)offsetof(type, member))

static PyObject *layout(PyObject *fields, size_t size)
{
	return fields != NULL ? Py_BuildValue("(Nn)", fields, (Py_ssize_t)size) : NULL;
}

static PyObject *kernel_layouts(void)
{
	return Py_BuildValue(
		"{s:(NN),s:(NN),s:(NN)}", "mc_option",
		layout(Py_BuildValue("[NNNN]", FIELD(cfgpool_option_input_t, spot), FIELD(cfgpool_option_input_t, strike),
				   FIELD(cfgpool_option_input_t, maturity), FIELD(cfgpool_option_input_t, type)),
		       sizeof(cfgpool_option_input_t)),
		layout(Py_BuildValue("[NNN]", FIELD(cfgpool_option_output_t, price), FIELD(cfgpool_option_output_t, std_error),
				   FIELD(cfgpool_option_output_t, paths)),
		       sizeof(cfgpool_option_output_t)),
		"spin", layout(Py_BuildValue("[N]", FIELD(cfgpool_spin_input_t, iterations)), sizeof(cfgpool_spin_input_t)),
		layout(Py_BuildValue("[N]", FIELD(cfgpool_spin_output_t, value)), sizeof(cfgpool_spin_output_t)), "curve",
		layout(Py_BuildValue("[NN]", FIELD(cfgpool_curve_input_t, seed), FIELD(cfgpool_curve_input_t, count)),
		       sizeof(cfgpool_curve_input_t)),
		layout(Py_BuildValue("[N]", FIELD(cfgpool_curve_output_t, sum)), sizeof(cfgpool_curve_output_t)));
}

static PyObject *result_layout(void)
{
	return layout(Py_BuildValue("[NNNN]", FIELD(cfgpool_result_t, status), FIELD(cfgpool_result_t, worker),
				  FIELD(cfgpool_result_t, version), FIELD(cfgpool_result_t, elapsed_ns)),
		      sizeof(cfgpool_result_t));
}

/* PyModule_AddObjectRef that takes `value` over (3.13's PyModule_Add). */
static int add_new(PyObject *m, const char *name, PyObject *value)
{
	int rc;

	if (value == NULL)
		return -1;
	rc = PyModule_AddObjectRef(m, name, value);
	Py_DECREF(value);
	return rc;
}

/* --- the module ----------------------------------------------------------------------------- */

static PyObject *strerror_py(PyObject *self, PyObject *arg)
{
	int code = PyLong_AsLong(arg);

	if (code == -1 && PyErr_Occurred())
		return NULL;
	return PyUnicode_FromString(cfgpool_strerror(code));
}

static PyMethodDef module_methods[] = {
	{"strerror", strerror_py, METH_O, "strerror(code)\n--\n\nThe library's message for an error code."},
	{NULL},
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "cfgpool._cfgpool",
	.m_doc = "The C half of the cfgpool package; use `import cfgpool`.",
	.m_size = -1,
	.m_methods = module_methods,
};

static PyObject *new_error(PyObject *module, const char *name, const char *doc, PyObject *bases)
{
	char full[64];
	PyObject *e;

	snprintf(full, sizeof(full), "cfgpool.%s", name);
	e = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
	Py_XDECREF(bases);
	if (e != NULL && PyModule_AddObjectRef(module, name, e) != 0)
		Py_CLEAR(e);
	return e;
}

static int add_type(PyObject *m, PyTypeObject *t, const char *name)
{
	if (PyType_Ready(t) != 0)
		return -1;
	return PyModule_AddObjectRef(m, name, (PyObject *)t);
}

PyMODINIT_FUNC PyInit__cfgpool(void);

PyMODINIT_FUNC PyInit__cfgpool(void)
{
	PyObject *m = PyModule_Create(&module_def);

	if (m == NULL)
		return NULL;
	if ((cfgpy_Error = new_error(m, "Error", "Base of every cfgpool error; `code` and `errname` name the code.",
				     Py_NewRef(PyExc_Exception))) == NULL ||
	    (cfgpy_ConfigError = new_error(m, "ConfigError",
					   "A configuration or option the library refused: file, line, column, position, "
					   "path (JSON path), text, code, errname.",
					   Py_NewRef(cfgpy_Error))) == NULL ||
	    (cfgpy_ClosedError = new_error(m, "ClosedError", "The pool is closed or closing.",
					   PyTuple_Pack(2, cfgpy_Error, PyExc_RuntimeError))) == NULL ||
	    (cfgpy_ItemError = new_error(m, "ItemError", "Base of the errors one item's Result carries.",
					 Py_NewRef(cfgpy_Error))) == NULL ||
	    (cfgpy_InputError = new_error(m, "InputError",
					  "The input could not be converted or its codec refused it; `field` names it.",
					  PyTuple_Pack(2, cfgpy_ItemError, PyExc_ValueError))) == NULL ||
	    (cfgpy_KernelError = new_error(m, "KernelError", "The kernel's run failed on the item with `code`.",
					   Py_NewRef(cfgpy_ItemError))) == NULL ||
	    (cfgpy_ResultError = new_error(m, "ResultError",
					   "The kernel's output could not be encoded (a number that is not finite, ...).",
					   Py_NewRef(cfgpy_ItemError))) == NULL)
		goto fail;
	if (add_type(m, &cfgpy_ResultType, "Result") != 0 || add_type(m, &cfgpy_ConfigType, "Config") != 0 ||
	    add_type(m, &cfgpy_ConfigArrayType, "ConfigArray") != 0 || add_type(m, &cfgpy_PoolType, "Pool") != 0 ||
	    add_type(m, &cfgpy_KernelType, "Kernel") != 0)
		goto fail;
	if (add_new(m, "kernel_layouts", kernel_layouts()) != 0 ||
	    add_new(m, "result_layout", result_layout()) != 0 ||
	    PyModule_AddStringConstant(m, "library_version", CFGPOOL_VERSION_STRING) != 0 ||
	    PyModule_AddIntConstant(m, "CALLER_WORKER", CFGPOOL_CALLER_WORKER) != 0 ||
	    PyModule_AddIntConstant(m, "MAX_DEPTH", CFGPOOL_MAX_DEPTH) != 0)
		goto fail;
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
