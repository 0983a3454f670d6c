#!/bin/sh
# The shared library exports the public API and nothing else: the symbols
# `nm -D --defined-only` lists must be exactly the functions impl/mmfree.h
# declares with MM_API (no mm__ internals, no design ops tables, no helper
# that forgot `static`). To show the check can fail, it also runs on a copy
# of the library linked with one object that leaks a symbol, and must name
# that symbol.
# Usage: test-symbols.sh PATH/TO/libmmfree.so (its objects in obj/ beside it)
set -u
cd "$(dirname "$0")/../.." || exit 2
LIB=${1:?usage: test-symbols.sh PATH/TO/libmmfree.so}
CC=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# The MM_API functions: the name before the first '(' of each MM_API line.
sed -n 's/^MM_API [^(]*[ *]\([A-Za-z_][A-Za-z0-9_]*\)(.*/\1/p' impl/mmfree.h | LC_ALL=C sort -u \
    >"$tmp/api"
declared=$(grep -c '^MM_API ' impl/mmfree.h)
if [ "$(wc -l <"$tmp/api")" -ne "$declared" ] || ! grep -qx mm_open "$tmp/api"; then
    echo "FAIL: read $(wc -l <"$tmp/api") function names from $declared MM_API lines of impl/mmfree.h"
    exit 1
fi

# exported LIB: the defined dynamic symbols of LIB, sorted.
exported() {
    nm -D --defined-only "$1" | awk 'NF >= 3 { print $3 }' | LC_ALL=C sort -u
}

# compare LIB: prints "unexpected: NAME" and "missing: NAME" lines.
compare() {
    exported "$1" >"$tmp/exported"
    LC_ALL=C comm -13 "$tmp/api" "$tmp/exported" | sed 's/^/unexpected: /'
    LC_ALL=C comm -23 "$tmp/api" "$tmp/exported" | sed 's/^/missing: /'
}

compare "$LIB" >"$tmp/diff"
if [ -s "$tmp/diff" ]; then
    echo "FAIL: $LIB does not export exactly the MM_API functions of impl/mmfree.h:"
    cat "$tmp/diff"
    failed=1
else
    echo "ok: $LIB exports the $(wc -l <"$tmp/api") MM_API functions and nothing else"
fi

# The control: a function that is neither static nor MM_API, compiled as
# the library's own files are, and one compiled without hidden visibility.
# The first must stay hidden, the second must be caught.
cat >"$tmp/leak.c" <<'EOF'
#include "mmfree.h"
int mm__symbols_test_hidden(void);
int mm__symbols_test_hidden(void) { return 1; }
EOF
cat >"$tmp/leak_default.c" <<'EOF'
int mm__symbols_test_leak(void);
int mm__symbols_test_leak(void) { return 2; }
EOF
objs=$(dirname "$LIB")/obj
if $CC -std=c17 -fPIC -fvisibility=hidden -DMMFREE_BUILD -Iimpl -c "$tmp/leak.c" -o "$tmp/leak.o" &&
    $CC -std=c17 -fPIC -c "$tmp/leak_default.c" -o "$tmp/leak_default.o" &&
    $CC -shared "$objs"/*.o "$tmp/leak.o" "$tmp/leak_default.o" -o "$tmp/libleak.so"; then
    compare "$tmp/libleak.so" >"$tmp/diff"
    if [ "$(cat "$tmp/diff")" = "unexpected: mm__symbols_test_leak" ]; then
        echo "ok: the check catches a leaked symbol and hidden visibility hides the other"
    else
        echo "FAIL: on a library with one leaked symbol the check said:"
        cat "$tmp/diff"
        failed=1
    fi
else
    echo "FAIL: cannot build the control library from $objs"
    failed=1
fi
exit $failed
