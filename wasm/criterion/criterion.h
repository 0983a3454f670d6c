/*
 * Just enough of Criterion's API for the tests that the WebAssembly build
 * runs inside the Node host (tests/test_model.c with tests/test_util.c),
 * unchanged: Criterion itself needs processes and threads, which wasi has
 * not. The Makefile's wasm section puts wasm/ first on the include path,
 * so <criterion/criterion.h> is this file there.
 *
 * A failed assertion prints its message and aborts, which traps the
 * instance; the host (wasm/host.mjs) runs every test in an instance of its
 * own, as Criterion runs each in a process of its own, and counts a trap
 * as a failure.
 */
#ifndef MMW_CRITERION_H
#define MMW_CRITERION_H

#include <stddef.h>

struct criterion_test_params {
    size_t size;
    void *params;
    size_t length;
};

#define cr_make_param_array(Type, Array, Len) \
    ((struct criterion_test_params){sizeof(Type), (void *)(Array), (Len)})

/** A registered test: its parameters and a runner for the i-th. */
typedef struct mmw_test {
    const char *suite, *name;
    struct criterion_test_params (*params)(void);
    void (*run)(void *param);
    struct mmw_test *next;
} mmw_test;

void mmw_test_register(mmw_test *t);

/** Prints "file:line: assertion failed: expr: message" and aborts. */
void mmw_test_fail(const char *file, int line, const char *expr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
void mmw_test_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The message is optional, as in Criterion: " " starts every format, so
 * that an assertion without one still passes a format string. */
#define cr_assert(cond, ...)                                                   \
    do {                                                                       \
        if (!(cond)) mmw_test_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__); \
    } while (0)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_fail(...) mmw_test_fail(__FILE__, __LINE__, "fail", " " __VA_ARGS__)
#define cr_log_info(...) mmw_test_log(__VA_ARGS__)

/* tests/test_util.c makes temporary files with mkstemp, which wasi-libc
 * leaves undeclared (WASI has no temporary directory). No test that the
 * wasm build runs opens a file: wasm-ld drops the unused tu_open_file
 * before it resolves symbols, and a test that did use it would fail to
 * link (mkstemp and mm_memory_file undefined) rather than run wrongly. */
int mkstemp(char *template_);

#endif
