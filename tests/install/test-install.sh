#!/bin/sh
# `make install` as a user gets it: installs into a temporary DESTDIR (the
# default PREFIX, then another), checks the files, symlinks, soname and
# mmfree.pc, builds examples/persist.c and the example of man/mmfree.3
# against the installed copy with nothing but pkg-config's flags, linked
# dynamically and statically, runs them, and checks that `make uninstall`
# removes exactly the files install put down and nothing else.
# One line per case; exits 1 on any failure.
# Usage: test-install.sh (B and A name the build folders, as in run-tests)
set -u
cd "$(dirname "$0")/../.." || exit 2
B=${B:-build}
A=${A:-build/asan}
CC=${CC:-cc}
# shellcheck source=tests/cases.sh
. tests/cases.sh

version_part() {
    sed -n "s/^#define MMFREE_VERSION_$1  *\([0-9][0-9]*\) *\$/\1/p" impl/mmfree.h
}
major=$(version_part MAJOR)
version=$major.$(version_part MINOR).$(version_part PATCH)

# make_in ROOT TARGET [VAR=VALUE...]: make TARGET with DESTDIR=ROOT.
make_in() {
    root=$1
    target=$2
    shift 2
    make --no-print-directory -s B="$B" A="$A" DESTDIR="$root" "$@" "$target" \
        >"$tmp/make.out" 2>&1 || fail "make $target $*: $(cat "$tmp/make.out")"
}

# files ROOT: every file and symlink under ROOT, relative, sorted.
files() {
    (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort)
}

# pc ROOT PREFIX ARGS...: pkg-config on the mmfree.pc installed under ROOT.
pc() {
    root=$1
    prefix=$2
    shift 2
    PKG_CONFIG_PATH="$root$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$root$prefix/lib/pkgconfig" \
        PKG_CONFIG_SYSROOT_DIR="$root" pkg-config "$@" mmfree
}

# Files that were there before install, which uninstall must leave alone.
root="$tmp/root"
prefix=/usr/local
mkdir -p "$root$prefix/lib/pkgconfig" "$root$prefix/bin"
echo keep >"$root$prefix/lib/pkgconfig/other.pc"
echo keep >"$root$prefix/bin/other"
files "$root" >"$tmp/before"

# ---------------------------------------------------------------------------
begin "install puts down the files of issue 10, with the default PREFIX"
make_in "$root" install
files "$root" >"$tmp/after"
LC_ALL=C sort >"$tmp/expected" <<EOF
usr/local/bin/mmrun
usr/local/bin/other
usr/local/include/mmfree.h
usr/local/lib/libmmfree.a
usr/local/lib/libmmfree.so
usr/local/lib/libmmfree.so.$major
usr/local/lib/libmmfree.so.$version
usr/local/lib/pkgconfig/mmfree.pc
usr/local/lib/pkgconfig/other.pc
usr/local/share/man/man1/mmrun.1
usr/local/share/man/man3/mmfree.3
EOF
diff "$tmp/expected" "$tmp/after" >"$tmp/diff" || fail "installed files differ from the expected ones:
$(cat "$tmp/diff")"
lib="$root$prefix/lib"
[ "$(readlink "$lib/libmmfree.so")" = "libmmfree.so.$major" ] ||
    fail "libmmfree.so points to '$(readlink "$lib/libmmfree.so")'"
[ "$(readlink "$lib/libmmfree.so.$major")" = "libmmfree.so.$version" ] ||
    fail "libmmfree.so.$major points to '$(readlink "$lib/libmmfree.so.$major")'"
soname=$(readelf -d "$lib/libmmfree.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libmmfree.so.$major" ] || fail "the soname is '$soname'"
cmp -s impl/mmfree.h "$root$prefix/include/mmfree.h" || fail "the installed header is not impl/mmfree.h"
[ -x "$root$prefix/bin/mmrun" ] || fail "mmrun is not executable"
"$root$prefix/bin/mmrun" designs >/dev/null 2>&1 || fail "the installed mmrun does not run"
end

begin "mmfree.pc: version, prefix and flags"
[ "$(pc "$root" $prefix --modversion)" = "$version" ] ||
    fail "pkg-config --modversion says '$(pc "$root" $prefix --modversion)', not $version"
grep -qx "prefix=$prefix" "$lib/pkgconfig/mmfree.pc" ||
    fail "mmfree.pc does not say prefix=$prefix: $(cat "$lib/pkgconfig/mmfree.pc")"
flags=$(pc "$root" $prefix --cflags --libs)
for want in "-I$root$prefix/include" "-L$lib" "-lmmfree"; do
    case " $flags " in *" $want "*) ;; *) fail "'$flags' lacks $want" ;; esac
done
end

# ---------------------------------------------------------------------------
# expect_persist OUTPUT: what examples/persist.c prints for design list.
expect_persist() {
    cat >"$tmp/persist.expected" <<EOF
mmfree $version (compiled against $version), design list
memory 0: 1 page, wrote "kept in memory 0" at byte 0
memory 1: 2 pages, wrote "kept in memory 1" at byte 65532
memory 0: freed
reopened $tmp/p.mem
memory 0: 0 pages
memory 1: 2 pages, reads "kept in memory 1"
buckets: 2 carved out, 1 in use, 1 free
memory 2: 1 page, in a freed bucket
buckets: 2 carved out, 2 in use, 0 free
EOF
    printf '%s\n' "$1" | diff "$tmp/persist.expected" - >"$tmp/diff" ||
        fail "the example printed something else:
$(cat "$tmp/diff")"
}

begin "examples/persist.c, linked to the installed libmmfree.so"
# shellcheck disable=SC2046 # the flags are words
if $CC -std=c17 -Wall -Wextra -Werror examples/persist.c $(pc "$root" $prefix --cflags --libs) \
    -o "$tmp/persist-shared" 2>"$tmp/cc.err"; then
    needed=$(readelf -d "$tmp/persist-shared" | sed -n 's/.*Shared library: \[\(libmmfree[^]]*\)\].*/\1/p')
    [ "$needed" = "libmmfree.so.$major" ] || fail "the program needs '$needed', not libmmfree.so.$major"
    resolved=$(LD_LIBRARY_PATH="$lib" ldd "$tmp/persist-shared" | sed -n 's/.*libmmfree.so[^ ]* => \([^ ]*\).*/\1/p')
    [ "$resolved" = "$lib/libmmfree.so.$major" ] || fail "libmmfree resolves to '$resolved'"
    out=$(LD_LIBRARY_PATH="$lib" "$tmp/persist-shared" list "$tmp/p.mem" 2>&1) ||
        fail "exit status $?: $out"
    expect_persist "$out"
else
    fail "does not compile: $(cat "$tmp/cc.err")"
fi
end

begin "examples/persist.c, linked statically (pkg-config --static, cc -static)"
# shellcheck disable=SC2046
if $CC -static -std=c17 -Wall -Wextra -Werror examples/persist.c \
    $(pc "$root" $prefix --static --cflags --libs) -o "$tmp/persist-static" 2>"$tmp/cc.err"; then
    readelf -d "$tmp/persist-static" 2>/dev/null | grep -q 'NEEDED' &&
        fail "the static program needs shared libraries: $(readelf -d "$tmp/persist-static" | grep NEEDED)"
    out=$(env -u LD_LIBRARY_PATH "$tmp/persist-static" list "$tmp/p.mem" 2>&1) ||
        fail "exit status $?: $out"
    expect_persist "$out"
else
    fail "does not compile: $(cat "$tmp/cc.err")"
fi
end

begin "the example of man/mmfree.3 builds and runs as it says"
# The EXAMPLES section's first .nf block, with roff's escapes undone.
sed -n '/^\.SH EXAMPLES/,/^\.fi/p' man/mmfree.3 | sed '/^\./d; s/\\e/\\/g; s/\\-/-/g' >"$tmp/demo.c"
grep -q 'int main' "$tmp/demo.c" || fail "found no program in man/mmfree.3's EXAMPLES"
# shellcheck disable=SC2046
if (cd "$tmp" && $CC -std=c17 -Wall -Wextra -Werror demo.c $(pc "$root" $prefix --cflags --libs) \
    -o demo) 2>"$tmp/cc.err"; then
    first=$(cd "$tmp" && LD_LIBRARY_PATH="$lib" ./demo 2>&1)
    second=$(cd "$tmp" && LD_LIBRARY_PATH="$lib" ./demo 2>&1)
    [ "$first" = 'memory 3: 1 page(s), "hello"' ] || fail "the first run printed '$first'"
    [ "$second" = 'memory 3: 2 page(s), "hello"' ] || fail "the second run printed '$second'"
else
    fail "does not compile: $(cat "$tmp/cc.err")"
fi
end

# ---------------------------------------------------------------------------
begin "uninstall removes exactly what install put down"
make_in "$root" uninstall
files "$root" >"$tmp/left"
diff "$tmp/before" "$tmp/left" >"$tmp/diff" || fail "after uninstall the files differ from before install:
$(cat "$tmp/diff")"
make_in "$root" uninstall # a second time: nothing left to remove, no error
end

begin "PREFIX and DESTDIR are honoured"
root2="$tmp/root2"
prefix2=/opt/mmfree
make_in "$root2" install PREFIX=$prefix2
files "$root2" | grep -v "^${prefix2#/}/" >"$tmp/outside"
[ -s "$tmp/outside" ] && fail "files outside PREFIX: $(cat "$tmp/outside")"
[ "$(files "$root2" | wc -l)" -eq 9 ] || fail "installed $(files "$root2" | wc -l) files, not 9"
grep -qx "prefix=$prefix2" "$root2$prefix2/lib/pkgconfig/mmfree.pc" ||
    fail "mmfree.pc does not say prefix=$prefix2"
# shellcheck disable=SC2046
$CC -std=c17 examples/persist.c $(pc "$root2" $prefix2 --cflags --libs) -o "$tmp/persist2" \
    2>"$tmp/cc.err" || fail "does not compile: $(cat "$tmp/cc.err")"
make_in "$root2" uninstall PREFIX=$prefix2
[ -z "$(files "$root2")" ] || fail "uninstall left: $(files "$root2")"
end

finish test-install
