# The Python binding (python/): the CPython extension cfgpool._cfgpool over the public API,
# and the package around it, installed together into $(pyexecdir)/cfgpool. Built when
# configure found Python 3 with its headers (python3-dev; --without-python turns it off).
# Included from the top-level Makefile.am. tests/check_python.sh runs tests/python/ with
# pytest against the build tree, without installing.
PYTHON_BINDING_SOURCES = python/module.c python/convert.c python/config.c python/pool.c python/kernel.c python/binding.h \
	src/cli/words.c src/cli/words.h
PYTHON_PACKAGE = python/cfgpool/__init__.py
if HAVE_PYTHON
pkgpyexec_LTLIBRARIES = python/cfgpool/_cfgpool.la
python_cfgpool__cfgpool_la_SOURCES = $(PYTHON_BINDING_SOURCES)
python_cfgpool__cfgpool_la_CFLAGS = $(AM_CFLAGS) $(VISIBILITY_CFLAGS) $(PYTHON_CFLAGS)
python_cfgpool__cfgpool_la_LDFLAGS = -module -avoid-version -shared
python_cfgpool__cfgpool_la_LIBADD = libcfgpool.la $(PTHREAD_LIBS)
pkgpyexec_PYTHON = $(PYTHON_PACKAGE)
else
EXTRA_DIST += $(PYTHON_BINDING_SOURCES) $(PYTHON_PACKAGE)
endif
EXTRA_DIST += python/local.mk

TESTS += tests/check_python.sh
EXTRA_DIST += tests/check_python.sh tests/python/conftest.py tests/python/test_pool.py tests/python/test_config.py \
	tests/python/test_leaks.py tests/python/test_array.py tests/python/test_readme.py tests/python/test_numba.py
AM_TESTS_ENVIRONMENT += \
	CFGPOOL_PYTHON='$(PYTHON)'; export CFGPOOL_PYTHON; \
	CFGPOOL_PYTHON_SRC='$(abs_top_srcdir)/python'; export CFGPOOL_PYTHON_SRC;
# perf/bench_python.py: cfgpool.Pool.map against multiprocessing.Pool(initializer).map, run
# by `make bench` (perf/run) with the build tree's binding, like perf/bench_pool_mp.py.
EXTRA_DIST += perf/bench_python.py
