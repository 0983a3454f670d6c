/* Error strings, and the per-thread detail of the last error. */
#define _POSIX_C_SOURCE 200809L /* the XSI strerror_r */
#include "mm_internal.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const errstr[] = {
    [MM_OK] = "MM_OK: success",
    [MM_EINVAL] = "MM_EINVAL: invalid argument",
    [MM_EDESIGN_UNKNOWN] = "MM_EDESIGN_UNKNOWN: no design of that name",
    [MM_EBOUNDS] = "MM_EBOUNDS: access out of bounds",
    [MM_EOVERFLOW] = "MM_EOVERFLOW: size past the design's maximum",
    [MM_EFULL] = "MM_EFULL: no bucket left",
    [MM_EGROW] = "MM_EGROW: the linear memory cannot grow",
    [MM_EIO] = "MM_EIO: storage read or write failed",
    [MM_ENOMEM] = "MM_ENOMEM: out of heap memory",
    [MM_ENOTSUP] = "MM_ENOTSUP: not supported by this design",
    [MM_EMAGIC] = "MM_EMAGIC: no memory-manager layout (bad magic)",
    [MM_EVERSION] = "MM_EVERSION: unknown layout version",
    [MM_EWRONG_DESIGN] = "MM_EWRONG_DESIGN: the memory holds another design's layout",
    [MM_EBUCKET_SIZE] = "MM_EBUCKET_SIZE: bucket size differs from the stored one",
    [MM_ECORRUPT] = "MM_ECORRUPT: corrupt header",
    [MM_EINTERRUPTED] = "MM_EINTERRUPTED: an upgrade of the layout was interrupted",
    [MM_ESHORT] = "MM_ESHORT: storage is not a whole number of pages",
    [MM_EBROKEN] = "MM_EBROKEN: an earlier header write failed; reopen the memory",
    [MM_ECHECK] = "MM_ECHECK: an invariant is broken",
    [MM_EBUSY] = "MM_EBUSY: the file is open in another handle or process",
    [MM_EREADONLY] = "MM_EREADONLY: the memory is open read-only",
};
static_assert(sizeof errstr / sizeof errstr[0] == MM_ELAST, "one string per error code");

const char *mm_strerror(int err) {
    if (err < 0 || err >= MM_ELAST) return "MM_E?: unknown error code";
    return errstr[err];
}

static _Thread_local char detail[320];

const char *mm_error_detail(void) {
    return detail;
}

int mm__fail(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return err;
}

const char *mm__errno_text(int errnum, char buf[MM_ERRNO_TEXT]) {
    /* The XSI strerror_r (this file defines no _GNU_SOURCE): it fills buf
     * and is thread-safe, where strerror is not. */
    if (strerror_r(errnum, buf, MM_ERRNO_TEXT) != 0)
        snprintf(buf, MM_ERRNO_TEXT, "system error %d", errnum);
    return buf;
}

int mm_version(int *major, int *minor, int *patch) {
    if (major) *major = MMFREE_VERSION_MAJOR;
    if (minor) *minor = MMFREE_VERSION_MINOR;
    if (patch) *patch = MMFREE_VERSION_PATCH;
    return MMFREE_VERSION;
}
