/*
 * Criterion's parameterized tests, as wasm/criterion/criterion.h provides
 * them: ParameterizedTestParameters(suite, test) defines the parameters,
 * ParameterizedTest(Type *param, suite, test) the body, which a
 * constructor registers for the host to list and run (wasm/criterion/tests.c).
 */
#ifndef MMW_CRITERION_PARAMETERIZED_H
#define MMW_CRITERION_PARAMETERIZED_H

#include "criterion.h"

#define ParameterizedTestParameters(suite, test) \
    static struct criterion_test_params suite##_##test##_params(void)

#define ParameterizedTest(param_decl, suite, test)                                       \
    static void suite##_##test##_impl(param_decl);                                       \
    static void suite##_##test##_run(void *param) {                                      \
        suite##_##test##_impl(param);                                                    \
    }                                                                                    \
    __attribute__((constructor)) static void suite##_##test##_register(void) {           \
        static mmw_test t = {#suite, #test, suite##_##test##_params, suite##_##test##_run, \
                             NULL};                                                      \
        mmw_test_register(&t);                                                           \
    }                                                                                    \
    static void suite##_##test##_impl(param_decl)

#endif
