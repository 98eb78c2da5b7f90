#!/usr/bin/env bash
# The one-way rules of lib/ (doc/architecture.md, "One-way house"): prints every #include that
# breaks one and fails. Data flows file → model → context → backend kernels; nothing reaches back.
#   check_layers.sh SOURCE_DIR
set -u
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root/lib" || exit 2
# part -> the parts of lib/ it must never include (folders, or api.c for the public entry points)
rules=(
  "core:format model kv backend context tokenizer chat quant sample api.c"
  "format:model kv backend context tokenizer chat sample api.c"
  "quant:format model kv backend context tokenizer chat sample api.c"
  "tokenizer:model backend kv context sample api.c"
  "chat:model backend kv context sample api.c"
  "sample:format model kv backend context tokenizer chat api.c"
  "model:kv context api.c"
  "kv:format model tokenizer chat context sample api.c"
  "backend:format model kv tokenizer chat context sample api.c"
)
bad=0
report() { printf '%s\n%s\n' "$1" "$2"; bad=1; }
for rule in "${rules[@]}"; do
  part=${rule%%:*}
  [ -d "$part" ] || continue
  for banned in ${rule#*:}; do
    hits=$(grep -rnE "#include +\"$banned(/|\")" "$part")
    [ -z "$hits" ] || report "lib/$part must not include $banned:" "$hits"
  done
done
# snapshot/ sits beside the public API, over context/: it reaches down, nothing reaches it.
hits=$(grep -rnE '#include +"snapshot/' . | grep -v '^\./snapshot/')
[ -z "$hits" ] || report "only lib/snapshot may include snapshot/:" "$hits"
hits=$(grep -rnE '#include +"(tokenizer|chat|sample)/' snapshot 2>/dev/null)
[ -z "$hits" ] || report "lib/snapshot must not include tokenizer, chat or sample:" "$hits"
# model/ describes the network over the seam: of backend/ it may include backend.h alone.
hits=$(grep -rnE '#include +"backend/' model | grep -v '"backend/backend.h"')
[ -z "$hits" ] || report "lib/model may include only backend/backend.h of the backend:" "$hits"
hits=$(grep -rnE '#include +"(\.\./)*(examples|benchmarks|bindings|tests)/' .)
[ -z "$hits" ] || report "lib/ must not include examples/, benchmarks/, bindings/ or tests/:" "$hits"
[ "$bad" -eq 0 ] && echo "lib/: every include follows the one-way rules"
exit $bad
