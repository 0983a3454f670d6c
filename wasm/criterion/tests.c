/*
 * The registry of the tests built into the WebAssembly module, and the
 * entry points through which the host lists and runs them (one test and
 * parameter per instance: wasm/host.mjs test).
 */
#include "criterion.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define EXPORT(name) __attribute__((export_name(#name)))

static mmw_test *first, **last = &first;
static uint32_t count;

void mmw_test_register(mmw_test *t) {
    *last = t;
    last = &t->next;
    count++;
}

static mmw_test *get(uint32_t i) {
    mmw_test *t = first;
    while (t && i--) t = t->next;
    return t;
}

void mmw_test_fail(const char *file, int line, const char *expr, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: assertion failed: %s:", file, line, expr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

void mmw_test_log(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

EXPORT(mmw_test_count) uint32_t mmw_test_count(void) {
    return count;
}

EXPORT(mmw_test_suite) const char *mmw_test_suite(uint32_t i) {
    mmw_test *t = get(i);
    return t ? t->suite : NULL;
}

EXPORT(mmw_test_name) const char *mmw_test_name(uint32_t i) {
    mmw_test *t = get(i);
    return t ? t->name : NULL;
}

/** How many parameters test i runs with. */
EXPORT(mmw_test_params) uint32_t mmw_test_params(uint32_t i) {
    mmw_test *t = get(i);
    return t ? (uint32_t)t->params().length : 0;
}

/** Runs test i with its j-th parameter; returns 0, or traps on a failure. */
EXPORT(mmw_test_run) uint32_t mmw_test_run(uint32_t i, uint32_t j) {
    mmw_test *t = get(i);
    if (!t) return 1;
    struct criterion_test_params p = t->params();
    if (j >= p.length) return 1;
    t->run((char *)p.params + j * p.size);
    return 0;
}
