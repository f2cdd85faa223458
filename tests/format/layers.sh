#!/usr/bin/env bash
# The component boundaries of ARCHITECTURE.md "Folders": every #include "X/..." in src/Y/ must name
# a folder Y may include. Prints each violation (file:line and the include) and exits 1 if any.
set -euo pipefail
cd "$(dirname "$0")/../../src"
declare -A allowed=(
  [common]=""
  [config]="common"
  [mime]="common"
  [store]="common"
  [mailauth]="common config obs"
  [smtp]="common config store obs mailauth"
  [delivery]="common config mime store obs"
  [api]="common config mime store obs"
  [relay]="common config store obs mailauth"
  [obs]="common"
  [app]="*"
)
bad=0
for dir in */; do
  component=${dir%/}
  [ -v "allowed[$component]" ] || { echo "layers: src/$component/ is not in ARCHITECTURE.md's table"; bad=1; continue; }
  [ "${allowed[$component]}" = "*" ] && continue
  while IFS=: read -r file line text; do
    target=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([a-z_]+)\/.*/\1/' <<<"$text")
    [ "$target" = "$component" ] && continue
    [ -d "$target" ] || continue # a generated or third-party header, not a component
    case " ${allowed[$component]} " in
      *" $target "*) ;;
      *) echo "layers: $file:$line includes $target/ ($component/ may include: ${allowed[$component]:-std only})"; bad=1 ;;
    esac
  done < <(grep -rn -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[a-z_]+/' "$component" || true)
done
[ $bad = 0 ] && echo "layers: every include within ARCHITECTURE.md's boundaries"
exit $bad
