#!/usr/bin/env bash
# Prints the Debian archive and security mirrors this machine's apt already uses, read at run time
# from /etc/apt/sources.list, sources.list.d/*.list (one-line style) and sources.list.d/*.sources
# (deb822), so that no package host is written into the project. Output: two lines,
#   archive URI     (the first enabled "deb" entry whose suite is SUITE, default bookworm)
#   security URI    (the first one whose suite is SUITE-security; empty line when none)
# Usage: tests/image/apt-mirrors.sh [SUITE]   Exit status 1 when no archive entry is found.
set -euo pipefail
suite="${1:-bookworm}"
root="${APT_ROOT:-}"  # for testing against another tree

files=()
[ -f "$root/etc/apt/sources.list" ] && files+=("$root/etc/apt/sources.list")
for f in "$root"/etc/apt/sources.list.d/*.list "$root"/etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] && files+=("$f")
done
[ ${#files[@]} -gt 0 ] || { echo "apt-mirrors: no apt sources on this machine" >&2; exit 1; }

# One record per entry: "URI SUITE SUITE..." (deb lines only, options and disabled entries
# skipped). apt reads the files in this order too (sources.list first, then sources.list.d sorted).
entries() {
  local f
  for f in "${files[@]}"; do
    case "$f" in
      *.sources)
        # deb822 (sources.list(5) "DEB822-STYLE FORMAT"): paragraphs split by blank lines, '#'
        # lines are comments, a field may continue on lines that start with a space.
        awk '
          function flush() {
            if (types ~ /(^| )deb( |$)/ && tolower(enabled) != "no" && uris != "" && suites != "") {
              split(uris, u, " "); print u[1], suites
            }
            types = ""; uris = ""; suites = ""; enabled = ""; field = ""
          }
          /^#/ { next }
          /^[ \t]*$/ { flush(); next }
          /^[ \t]/ { if (field == "uris") uris = uris " " $0; else if (field == "suites") suites = suites " " $0; next }
          {
            name = tolower(substr($0, 1, index($0, ":") - 1)); value = substr($0, index($0, ":") + 1)
            gsub(/^[ \t]+|[ \t]+$/, "", value); field = name
            if (name == "types") types = value
            else if (name == "uris") uris = value
            else if (name == "suites") suites = value
            else if (name == "enabled") enabled = value
          }
          END { flush() }' "$f" | tr -s ' \t' '  '
        ;;
      *)
        # One-line style: deb [options] uri suite component...
        awk '
          { sub(/#.*/, "") }
          $1 == "deb" {
            i = 2
            if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
            if (i + 1 <= NF) print $i, $(i + 1)
          }' "$f"
        ;;
    esac
  done
}

find_uri() {  # the URI of the first entry listing suite $1
  entries | awk -v want="$1" '{ for (i = 2; i <= NF; i++) if ($i == want) { print $1; exit } }'
}

archive=$(find_uri "$suite")
security=$(find_uri "$suite-security")
if [ -z "$archive" ]; then
  echo "apt-mirrors: no enabled 'deb' entry for suite $suite in ${files[*]}" >&2
  exit 1
fi
echo "${archive%/}"
echo "${security%/}"
