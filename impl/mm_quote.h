/*
 * Quoting a token that came from outside (a design name, a path, an option
 * value) for an error message: at most MM_QUOTE_MAX of its bytes, every
 * byte outside printable ASCII escaped, so that a 10,000-byte token cannot
 * flood a message and one holding a newline cannot inject a line into it.
 * Static inline and self-contained, so that mmrun (bench/) quotes exactly
 * as the library does without the library exporting it.
 */
#ifndef MM_QUOTE_H
#define MM_QUOTE_H

#include <stddef.h>

enum {
    MM_QUOTE_MAX = 40, /* bytes of the token shown */
    /* each shown byte takes at most 4 ("\xff"), plus 2 quotes, "...", NUL */
    MM_QUOTE_BYTES = 4 * MM_QUOTE_MAX + 2 + 3 + 1,
};

/** s between two `quote` characters in out, escaped as in C (the quote
 *  character and backslash too), with "..." after the closing quote when s
 *  was longer than MM_QUOTE_MAX bytes; "(null)" for NULL. */
static inline const char *mm_quote_with(char out[MM_QUOTE_BYTES], const char *s, char quote) {
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (!s) {
        const char *null = "(null)";
        while ((out[n] = null[n]) != '\0') n++;
        return out;
    }
    out[n++] = quote;
    size_t i = 0;
    for (; s[i] && i < MM_QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc = c == (unsigned char)quote ? quote : c == '\\' ? '\\' : c == '\n' ? 'n'
                 : c == '\t' ? 't' : c == '\r' ? 'r' : 0;
        if (esc) {
            out[n++] = '\\';
            out[n++] = esc;
        } else if (c < 0x20 || c > 0x7e) {
            out[n++] = '\\';
            out[n++] = 'x';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = quote;
    if (s[i])
        for (int k = 0; k < 3; k++) out[n++] = '.';
    out[n] = '\0';
    return out;
}

/** s as a C string literal, in double quotes: the library's details. */
static inline const char *mm_quote(char out[MM_QUOTE_BYTES], const char *s) {
    return mm_quote_with(out, s, '"');
}

#endif /* MM_QUOTE_H */
