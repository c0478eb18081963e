/*
 * One path between Python objects and cfgpool's values, both ways. Python to the library:
 * the object is written as JSON text through the library's own writer (cfgpool_writer_t,
 * which can only produce valid JSON and refuses non-finite numbers), and that text is
 * loaded by the library's loader into a frozen tree, the node a codec decodes, exactly as
 * `cfgpool run` loads a line. The library to Python: a frozen node (a configuration, or
 * an output the codec encoded and the loader read back) becomes Python objects. Python's
 * json module takes no part.
 */
#include "binding.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The steps from the top to the value being written, to name it when it fails. */
struct conv {
	cfgpool_writer_t *w;
	struct cfgpy_conv_error *e;
	int depth;
	struct {
		PyObject *key; /* borrowed, a str; NULL for an array element */
		Py_ssize_t index;
	} step[CFGPOOL_MAX_DEPTH + 1];
};

/* A key written bare in a path: not empty, and none of the bytes . [ ] " (config.h). */
static bool bare_key(const char *k, Py_ssize_t n)
{
	if (n == 0)
		return false;
	for (Py_ssize_t i = 0; i < n; i++) {
		if (k[i] == '.' || k[i] == '[' || k[i] == ']' || k[i] == '"' || k[i] == '\0')
			return false;
	}
	return true;
}

/* Appends to the path in e->path, cutting at its size. */
static void path_append(struct cfgpy_conv_error *e, size_t *at, const char *s, size_t n)
{
	size_t room = sizeof(e->path) - 1 - *at;

	if (*at >= sizeof(e->path) - 1)
		return;
	if (n > room)
		n = room;
	memcpy(e->path + *at, s, n);
	*at += n;
	e->path[*at] = '\0';
}

static void format_path(struct conv *c)
{
	size_t at = 0;
	char buf[32];

	c->e->path[0] = '\0';
	for (int i = 0; i < c->depth; i++) {
		if (c->step[i].key == NULL) {
			snprintf(buf, sizeof(buf), "[%zd]", c->step[i].index);
			path_append(c->e, &at, buf, strlen(buf));
			continue;
		}
		Py_ssize_t n;
		const char *k = PyUnicode_AsUTF8AndSize(c->step[i].key, &n);

		if (k == NULL) {
			PyErr_Clear();
			path_append(c->e, &at, "[?]", 3);
		} else if (bare_key(k, n)) {
			if (i > 0)
				path_append(c->e, &at, ".", 1);
			path_append(c->e, &at, k, (size_t)n);
		} else {
			path_append(c->e, &at, "[\"", 2);
			for (Py_ssize_t j = 0; j < n; j++) {
				if (k[j] == '"' || k[j] == '\\')
					path_append(c->e, &at, "\\", 1);
				path_append(c->e, &at, k + j, 1);
			}
			path_append(c->e, &at, "\"]", 2);
		}
	}
}

static int fail(struct conv *c, int code, const char *message)
{
	if (PyErr_Occurred()) {
		if (!PyErr_ExceptionMatches(PyExc_MemoryError))
			PyErr_Clear();
		else
			code = -ENOMEM;
	}
	c->e->code = code;
	format_path(c);
	snprintf(c->e->text, sizeof(c->e->text), "%s", message);
	return code;
}

/* -EINVAL with a message naming the type of `obj` between `before` and `after`. */
static int fail_type(struct conv *c, const char *before, PyObject *obj, const char *after)
{
	char msg[CFGPOOL_ERROR_TEXT_LEN];

	snprintf(msg, sizeof(msg), "%s%s%s", before, Py_TYPE(obj)->tp_name, after);
	return fail(c, -EINVAL, msg);
}

/* The writer's own error, with its message. */
static int writer_fail(struct conv *c, int rc)
{
	const char *why = "";

	cfgpool_writer_error(c->w, &why);
	/* The writer names the key itself; the path says it better, with the whole way down. */
	if (rc == -EDOM)
		why = "a number that is not finite (JSON has no NaN or infinity)";
	return fail(c, rc, why[0] ? why : cfgpool_strerror(rc));
}

static int write_value(struct conv *c, PyObject *obj);

/* The frozen tree holds integers as int64 (jansson's json_int_t): nothing wider reads back. */
static int write_int(struct conv *c, PyObject *obj)
{
	int overflow = 0;
	long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);

	if (v == -1 && PyErr_Occurred())
		return fail(c, -EINVAL, "an integer that cannot be read");
	if (overflow != 0)
		return fail(c, -ERANGE, "an integer outside the range of int64");
	return cfgpool_write_int(c->w, v);
}

static int write_str(struct conv *c, PyObject *obj, bool key)
{
	Py_ssize_t n;
	const char *s = PyUnicode_AsUTF8AndSize(obj, &n);

	if (s == NULL)
		return fail(c, -EILSEQ, key ? "a key that cannot be encoded as UTF-8" :
					       "a string that cannot be encoded as UTF-8");
	if (key) {
		if (memchr(s, '\0', (size_t)n) != NULL)
			return fail(c, -EINVAL, "a key holding a NUL character");
		return cfgpool_write_key(c->w, s);
	}
	return cfgpool_write_string(c->w, s, (size_t)n);
}

static int write_dict(struct conv *c, PyObject *obj)
{
	PyObject *key, *value;
	Py_ssize_t pos = 0;
	int rc = cfgpool_write_object_begin(c->w);

	while (rc == 0 && PyDict_Next(obj, &pos, &key, &value)) {
		if (!PyUnicode_Check(key))
			return fail_type(c, "a key of type ", key, ": JSON keys are strings");
		c->step[c->depth].key = key;
		c->depth++;
		rc = write_str(c, key, true);
		if (rc == 0) {
			Py_INCREF(value); /* the dict may lose it if a conversion runs Python code */
			rc = write_value(c, value);
			Py_DECREF(value);
		}
		if (rc != 0)
			return rc;
		c->depth--;
	}
	return rc != 0 ? rc : cfgpool_write_object_end(c->w);
}

static int write_sequence(struct conv *c, PyObject *obj)
{
	int rc = cfgpool_write_array_begin(c->w);

	/* PySequence_Fast_GET_SIZE is read on every turn: a list may change length meanwhile. */
	for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(obj); i++) {
		PyObject *item = PySequence_Fast_GET_ITEM(obj, i);

		c->step[c->depth].key = NULL;
		c->step[c->depth].index = i;
		c->depth++;
		Py_INCREF(item);
		rc = write_value(c, item);
		Py_DECREF(item);
		if (rc != 0)
			return rc;
		c->depth--;
	}
	return rc != 0 ? rc : cfgpool_write_array_end(c->w);
}

static int write_value(struct conv *c, PyObject *obj)
{
	int rc;

	if (obj == Py_None) {
		rc = cfgpool_write_null(c->w);
	} else if (PyBool_Check(obj)) {
		rc = cfgpool_write_bool(c->w, obj == Py_True);
	} else if (PyLong_Check(obj)) {
		rc = write_int(c, obj);
	} else if (PyFloat_Check(obj)) {
		rc = cfgpool_write_double(c->w, PyFloat_AS_DOUBLE(obj));
	} else if (PyUnicode_Check(obj)) {
		rc = write_str(c, obj, false);
	} else if (PyDict_Check(obj) || PyList_Check(obj) || PyTuple_Check(obj)) {
		/* The writer refuses the depth as well; checking first bounds this recursion. */
		if (c->depth >= CFGPOOL_MAX_DEPTH)
			return fail(c, -ELOOP, "objects and arrays nest deeper than the limit of 64");
		if (Py_EnterRecursiveCall(" while converting to JSON"))
			return fail(c, -ELOOP, "objects and arrays nest too deep");
		rc = PyDict_Check(obj) ? write_dict(c, obj) : write_sequence(c, obj);
		Py_LeaveRecursiveCall();
	} else if (PyIndex_Check(obj)) {
		PyObject *i = PyNumber_Index(obj);

		if (i == NULL)
			return fail_type(c, "a ", obj, " that has no integer value");
		rc = write_int(c, i);
		Py_DECREF(i);
	} else {
		return fail_type(c, "a value of type ", obj, ", which has no JSON form");
	}
	if (rc != 0 && c->e->code == 0)
		return writer_fail(c, rc);
	return rc;
}

int cfgpy_write_object(cfgpool_writer_t *w, PyObject *obj, struct cfgpy_conv_error *e)
{
	struct conv c = {.w = w, .e = e};

	e->code = 0;
	e->path[0] = '\0';
	e->text[0] = '\0';
	return write_value(&c, obj);
}

char *cfgpy_document_text(PyObject *doc, size_t *len)
{
	struct cfgpy_conv_error e;
	cfgpool_writer_t *w;
	const char *text;
	char *copy = NULL;
	int rc;

	rc = cfgpool_writer_create(CFGPOOL_DEFAULT_MAX_SIZE, &w);
	if (rc != 0) {
		PyErr_NoMemory();
		return NULL;
	}
	rc = cfgpy_write_object(w, doc, &e);
	if (rc == -ENOMEM && PyErr_Occurred()) {
		cfgpool_writer_destroy(w);
		return NULL;
	}
	if (rc == 0 && (text = cfgpool_writer_text(w, len)) != NULL) {
		copy = malloc(*len + 1);
		if (copy == NULL)
			PyErr_NoMemory();
		else
			memcpy(copy, text, *len + 1);
	} else {
		cfgpool_error_t err;

		cfgpool_error_init(&err);
		snprintf(err.source, sizeof(err.source), "<dict>");
		cfgpool_error_set(&err, rc, e.path, "%s", e.text);
		cfgpy_raise_config_error(rc, &err);
	}
	cfgpool_writer_destroy(w);
	return copy;
}

PyObject *cfgpy_node_to_python(const cfgpool_node_t *node)
{
	const cfgpool_node_t *child;
	const char *s, *key;
	size_t n, key_len;
	int64_t i;
	double d;
	bool b;
	PyObject *out, *v;

	switch (cfgpool_node_type(node)) {
	case CFGPOOL_TYPE_NULL:
		Py_RETURN_NONE;
	case CFGPOOL_TYPE_BOOL:
		cfgpool_get_bool(node, NULL, &b);
		return PyBool_FromLong(b);
	case CFGPOOL_TYPE_INT:
		cfgpool_get_int(node, NULL, &i);
		return PyLong_FromLongLong(i);
	case CFGPOOL_TYPE_REAL:
		cfgpool_get_double(node, NULL, &d);
		return PyFloat_FromDouble(d);
	case CFGPOOL_TYPE_STRING:
		cfgpool_get_string(node, NULL, &s, &n);
		return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "surrogateescape");
	case CFGPOOL_TYPE_ARRAY:
		cfgpool_get_length(node, NULL, &n);
		out = PyList_New((Py_ssize_t)n);
		for (size_t k = 0; out != NULL && k < n; k++) {
			cfgpool_array_get(node, k, &child);
			v = cfgpy_node_to_python(child);
			if (v == NULL)
				Py_CLEAR(out);
			else
				PyList_SET_ITEM(out, (Py_ssize_t)k, v);
		}
		return out;
	case CFGPOOL_TYPE_OBJECT:
		out = PyDict_New();
		for (size_t k = 0; out != NULL && cfgpool_object_member(node, k, &key, &key_len, &child) == 0; k++) {
			PyObject *pk = PyUnicode_DecodeUTF8(key, (Py_ssize_t)key_len, "surrogateescape");

			v = pk != NULL ? cfgpy_node_to_python(child) : NULL;
			if (v == NULL || PyDict_SetItem(out, pk, v) != 0)
				Py_CLEAR(out);
			Py_XDECREF(pk);
			Py_XDECREF(v);
		}
		return out;
	}
	PyErr_SetString(PyExc_SystemError, "cfgpool: a node of unknown type");
	return NULL;
}

int cfgpy_write_node(cfgpool_writer_t *w, const cfgpool_node_t *node)
{
	const cfgpool_node_t *child;
	const char *s, *key;
	size_t n;
	int64_t i;
	double d;
	bool b;
	int rc;

	switch (cfgpool_node_type(node)) {
	case CFGPOOL_TYPE_NULL:
		return cfgpool_write_null(w);
	case CFGPOOL_TYPE_BOOL:
		cfgpool_get_bool(node, NULL, &b);
		return cfgpool_write_bool(w, b);
	case CFGPOOL_TYPE_INT:
		cfgpool_get_int(node, NULL, &i);
		return cfgpool_write_int(w, i);
	case CFGPOOL_TYPE_REAL:
		cfgpool_get_double(node, NULL, &d);
		return cfgpool_write_double(w, d);
	case CFGPOOL_TYPE_STRING:
		cfgpool_get_string(node, NULL, &s, &n);
		return cfgpool_write_string(w, s, n);
	case CFGPOOL_TYPE_ARRAY:
		rc = cfgpool_write_array_begin(w);
		for (size_t k = 0; rc == 0 && cfgpool_array_get(node, k, &child) == 0; k++)
			rc = cfgpy_write_node(w, child);
		return rc != 0 ? rc : cfgpool_write_array_end(w);
	case CFGPOOL_TYPE_OBJECT:
		rc = cfgpool_write_object_begin(w);
		for (size_t k = 0; rc == 0 && cfgpool_object_member(node, k, &key, NULL, &child) == 0; k++) {
			rc = cfgpool_write_key(w, key);
			if (rc == 0)
				rc = cfgpy_write_node(w, child);
		}
		return rc != 0 ? rc : cfgpool_write_object_end(w);
	}
	return -EINVAL;
}
