/*
 * cfgpool.Config and cfgpool.ConfigArray: read-only views of a frozen configuration tree,
 * with no copy. A Config is an object node (a mapping: keys in document order), a
 * ConfigArray an array node (a sequence); reading a member gives None, bool, int, float or
 * str for a scalar and another view for an object or an array. Every view keeps the root
 * alive, and the root owns the cfgpool_config_t: the tree is freed with the last view.
 */
#include "binding.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <structmember.h>

typedef struct ConfigObject {
	PyObject_HEAD
	struct ConfigObject *root; /* NULL for the root itself, which owns cfg */
	cfgpool_config_t *cfg;
	const cfgpool_node_t *node;
	unsigned long long version;
} ConfigObject;

static ConfigObject *root_of(ConfigObject *c)
{
	return c->root != NULL ? c->root : c;
}

/* A view of `node` (an object or an array) under c's root. */
static PyObject *view(ConfigObject *c, const cfgpool_node_t *node)
{
	PyTypeObject *t = cfgpool_node_type(node) == CFGPOOL_TYPE_OBJECT ? &cfgpy_ConfigType : &cfgpy_ConfigArrayType;
	ConfigObject *v = PyObject_New(ConfigObject, t);

	if (v == NULL)
		return NULL;
	v->root = root_of(c);
	Py_INCREF(v->root);
	v->cfg = v->root->cfg;
	v->node = node;
	v->version = v->root->version;
	return (PyObject *)v;
}

/* A member's value as Python sees it: a scalar converted, a container as a view. */
static PyObject *value_of(ConfigObject *c, const cfgpool_node_t *node)
{
	cfgpool_type_t t = cfgpool_node_type(node);

	if (t == CFGPOOL_TYPE_OBJECT || t == CFGPOOL_TYPE_ARRAY)
		return view(c, node);
	return cfgpy_node_to_python(node);
}

PyObject *cfgpy_config_wrap(cfgpool_config_t *cfg, uint64_t version)
{
	ConfigObject *c = PyObject_New(ConfigObject, &cfgpy_ConfigType);

	if (c == NULL) {
		cfgpool_config_free(cfg);
		return NULL;
	}
	c->root = NULL;
	c->cfg = cfg;
	c->node = cfgpool_config_root(cfg);
	c->version = version;
	return (PyObject *)c;
}

static void config_dealloc(ConfigObject *c)
{
	if (c->root != NULL)
		Py_DECREF(c->root);
	else if (c->cfg != NULL)
		cfgpool_config_free(c->cfg);
	PyObject_Free(c);
}

/* Config(path_or_dict): loads and freezes a document of its own. */
static PyObject *config_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
	static char *kwlist[] = {"source", NULL};
	cfgpool_config_t *cfg = NULL;
	cfgpool_error_t err;
	PyObject *source, *path = NULL;
	cfgpool_load_opts_t opts = {.source = "<dict>"};
	int rc;

	if (!PyArg_ParseTupleAndKeywords(args, kwds, "O:Config", kwlist, &source))
		return NULL;
	cfgpool_error_init(&err);
	if (PyDict_Check(source)) {
		size_t len;
		char *text = cfgpy_document_text(source, &len);

		if (text == NULL)
			return NULL;
		Py_BEGIN_ALLOW_THREADS
		rc = cfgpool_config_load_string(text, len, &opts, &cfg, &err);
		Py_END_ALLOW_THREADS
		free(text);
	} else {
		if (!PyUnicode_FSConverter(source, &path))
			return NULL;
		Py_BEGIN_ALLOW_THREADS
		rc = cfgpool_config_load_file(PyBytes_AS_STRING(path), NULL, &cfg, &err);
		Py_END_ALLOW_THREADS
		Py_DECREF(path);
	}
	if (rc != 0) {
		cfgpy_raise_config_error(rc, &err);
		return NULL;
	}
	return cfgpy_config_wrap(cfg, 0);
}

static Py_ssize_t config_len(ConfigObject *c)
{
	size_t n = 0;

	cfgpool_get_length(c->node, NULL, &n);
	return (Py_ssize_t)n;
}

static PyObject *config_subscript(ConfigObject *c, PyObject *key)
{
	const cfgpool_node_t *v;
	Py_ssize_t n;
	const char *k;

	if (!PyUnicode_Check(key)) {
		PyErr_Format(PyExc_TypeError, "cfgpool.Config keys are str, not %s", Py_TYPE(key)->tp_name);
		return NULL;
	}
	k = PyUnicode_AsUTF8AndSize(key, &n);
	if (k == NULL)
		return NULL;
	if (cfgpool_object_get(c->node, k, (size_t)n, &v) != 0) {
		PyErr_SetObject(PyExc_KeyError, key);
		return NULL;
	}
	return value_of(c, v);
}

static int config_contains(ConfigObject *c, PyObject *key)
{
	const cfgpool_node_t *v;
	Py_ssize_t n;
	const char *k;

	if (!PyUnicode_Check(key))
		return 0;
	k = PyUnicode_AsUTF8AndSize(key, &n);
	if (k == NULL)
		return -1;
	return cfgpool_object_get(c->node, k, (size_t)n, &v) == 0;
}

/* A list of the keys, values or (key, value) pairs, in document order. */
enum { KEYS, VALUES, ITEMS };

static PyObject *members(ConfigObject *c, int what)
{
	Py_ssize_t n = config_len(c);
	PyObject *out = PyList_New(n);
	const cfgpool_node_t *v;
	const char *key;
	size_t key_len;

	for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
		PyObject *k = NULL, *val = NULL, *item;

		cfgpool_object_member(c->node, (size_t)i, &key, &key_len, &v);
		if (what != VALUES)
			k = PyUnicode_DecodeUTF8(key, (Py_ssize_t)key_len, "surrogateescape");
		if (what != KEYS)
			val = value_of(c, v);
		if ((what != VALUES && k == NULL) || (what != KEYS && val == NULL)) {
			Py_XDECREF(k);
			Py_XDECREF(val);
			Py_CLEAR(out);
			break;
		}
		item = what == KEYS ? k : what == VALUES ? val : PyTuple_Pack(2, k, val);
		if (what == ITEMS) {
			Py_DECREF(k);
			Py_DECREF(val);
		}
		if (item == NULL) {
			Py_CLEAR(out);
			break;
		}
		PyList_SET_ITEM(out, i, item);
	}
	return out;
}

static PyObject *config_iter(ConfigObject *c)
{
	PyObject *keys = members(c, KEYS), *it;

	if (keys == NULL)
		return NULL;
	it = PyObject_GetIter(keys);
	Py_DECREF(keys);
	return it;
}

static PyObject *config_keys(ConfigObject *c, PyObject *unused)
{
	return members(c, KEYS);
}

static PyObject *config_values(ConfigObject *c, PyObject *unused)
{
	return members(c, VALUES);
}

static PyObject *config_items(ConfigObject *c, PyObject *unused)
{
	return members(c, ITEMS);
}

static PyObject *config_get(ConfigObject *c, PyObject *const *args, Py_ssize_t nargs)
{
	PyObject *v;

	if (nargs < 1 || nargs > 2) {
		PyErr_Format(PyExc_TypeError, "get() takes 1 or 2 arguments (%zd given)", nargs);
		return NULL;
	}
	v = config_subscript(c, args[0]);
	if (v == NULL && PyErr_ExceptionMatches(PyExc_KeyError)) {
		PyErr_Clear();
		return Py_NewRef(nargs > 1 ? args[1] : Py_None);
	}
	return v;
}

/* lookup(path): the value at a path in the library's syntax (loggers["another.module"].level). */
static PyObject *node_lookup(ConfigObject *c, PyObject *arg)
{
	const cfgpool_node_t *v;
	const char *path;
	int rc;

	if (!PyUnicode_Check(arg)) {
		PyErr_Format(PyExc_TypeError, "lookup() takes a path (str), not %s", Py_TYPE(arg)->tp_name);
		return NULL;
	}
	path = PyUnicode_AsUTF8(arg);
	if (path == NULL)
		return NULL;
	rc = cfgpool_lookup(c->node, path, &v);
	if (rc == 0)
		return value_of(c, v);
	if (rc == -ENOENT)
		PyErr_SetObject(PyExc_KeyError, arg);
	else if (rc == CFGPOOL_ETYPE)
		PyErr_Format(PyExc_TypeError, "%R: a step into a value that is not an object or an array", arg);
	else
		PyErr_Format(PyExc_ValueError, "%R: %s", arg, cfgpool_strerror(rc));
	return NULL;
}

static PyObject *node_to_python(ConfigObject *c, PyObject *unused)
{
	return cfgpy_node_to_python(c->node);
}

static PyObject *node_repr(ConfigObject *c)
{
	PyObject *v = cfgpy_node_to_python(c->node), *r;

	if (v == NULL)
		return NULL;
	r = PyUnicode_FromFormat("%s(%R)", Py_TYPE(c)->tp_name, v);
	Py_DECREF(v);
	return r;
}

/* Equal to a view with the same values, or to the dict or list they convert to. */
static PyObject *node_richcompare(ConfigObject *c, PyObject *other, int op)
{
	PyObject *a, *b, *r;

	if (op != Py_EQ && op != Py_NE)
		Py_RETURN_NOTIMPLEMENTED;
	if (Py_TYPE(other) == &cfgpy_ConfigType || Py_TYPE(other) == &cfgpy_ConfigArrayType)
		b = cfgpy_node_to_python(((ConfigObject *)other)->node);
	else if ((Py_TYPE(c) == &cfgpy_ConfigType && PyDict_Check(other)) ||
		 (Py_TYPE(c) == &cfgpy_ConfigArrayType && PyList_Check(other)))
		b = Py_NewRef(other);
	else
		Py_RETURN_NOTIMPLEMENTED;
	a = cfgpy_node_to_python(c->node);
	r = a != NULL && b != NULL ? PyObject_RichCompare(a, b, op) : NULL;
	Py_XDECREF(a);
	Py_XDECREF(b);
	return r;
}

static PyObject *node_version(ConfigObject *c, void *closure)
{
	return PyLong_FromUnsignedLongLong(c->version);
}

static PyObject *node_size(ConfigObject *c, void *closure)
{
	return PyLong_FromSize_t(cfgpool_config_size(c->cfg));
}

static PyGetSetDef node_getset[] = {
	{"version", (getter)node_version, NULL,
	 "the version the pool had published this configuration as (Pool.config()); 0 for a Config loaded alone", NULL},
	{"size", (getter)node_size, NULL, "bytes of memory the whole frozen configuration occupies", NULL},
	{NULL},
};

static PyMethodDef config_methods[] = {
	{"get", (PyCFunction)(void (*)(void))config_get, METH_FASTCALL,
	 "get(key, default=None)\n--\n\nThe member's value, or default."},
	{"keys", (PyCFunction)config_keys, METH_NOARGS, "keys()\n--\n\nThe keys, in document order."},
	{"values", (PyCFunction)config_values, METH_NOARGS, "values()\n--\n\nThe values, in document order."},
	{"items", (PyCFunction)config_items, METH_NOARGS, "items()\n--\n\n(key, value) pairs, in document order."},
	{"lookup", (PyCFunction)node_lookup, METH_O,
	 "lookup(path)\n--\n\nThe value at a path in the library's syntax: 'loggers[\"another.module\"].level'."},
	{"to_python", (PyCFunction)node_to_python, METH_NOARGS,
	 "to_python()\n--\n\nA deep copy as plain dicts and lists."},
	{NULL},
};

static PyMappingMethods config_mapping = {
	.mp_length = (lenfunc)config_len,
	.mp_subscript = (binaryfunc)config_subscript,
};

static PySequenceMethods config_sequence = {
	.sq_contains = (objobjproc)config_contains,
};

PyTypeObject cfgpy_ConfigType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cfgpool.Config",
	.tp_doc = "Config(path_or_dict)\n--\n\n"
		  "A frozen configuration (or an object inside one), read without copying: a read-only mapping "
		  "whose keys keep their document order. Scalars read as None, bool, int, float or str, objects "
		  "as Config, arrays as ConfigArray.",
	.tp_basicsize = sizeof(ConfigObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_MAPPING,
	.tp_new = config_new,
	.tp_dealloc = (destructor)config_dealloc,
	.tp_as_mapping = &config_mapping,
	.tp_as_sequence = &config_sequence,
	.tp_iter = (getiterfunc)config_iter,
	.tp_repr = (reprfunc)node_repr,
	.tp_richcompare = (richcmpfunc)node_richcompare,
	.tp_hash = PyObject_HashNotImplemented,
	.tp_methods = config_methods,
	.tp_getset = node_getset,
};

/* --- arrays --------------------------------------------------------------------------------- */

static PyObject *array_item(ConfigObject *c, Py_ssize_t i)
{
	const cfgpool_node_t *v;

	if (i < 0 || cfgpool_array_get(c->node, (size_t)i, &v) != 0) {
		PyErr_SetString(PyExc_IndexError, "cfgpool.ConfigArray index out of range");
		return NULL;
	}
	return value_of(c, v);
}

static PyMethodDef array_methods[] = {
	{"lookup", (PyCFunction)node_lookup, METH_O,
	 "lookup(path)\n--\n\nThe value at a path in the library's syntax: '[0].name'."},
	{"to_python", (PyCFunction)node_to_python, METH_NOARGS, "to_python()\n--\n\nA deep copy as plain lists and dicts."},
	{NULL},
};

static PySequenceMethods array_sequence = {
	.sq_length = (lenfunc)config_len,
	.sq_item = (ssizeargfunc)array_item,
};

PyTypeObject cfgpy_ConfigArrayType = {
	PyVarObject_HEAD_INIT(NULL, 0).tp_name = "cfgpool.ConfigArray",
	.tp_doc = "An array inside a frozen configuration, read without copying: a read-only sequence.",
	.tp_basicsize = sizeof(ConfigObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
	.tp_dealloc = (destructor)config_dealloc,
	.tp_as_sequence = &array_sequence,
	.tp_repr = (reprfunc)node_repr,
	.tp_richcompare = (richcmpfunc)node_richcompare,
	.tp_hash = PyObject_HashNotImplemented,
	.tp_methods = array_methods,
	.tp_getset = node_getset,
};
