#!/usr/bin/env bash
# Lists every function in src/ longer than 100 lines (signature to closing brace, as rustfmt lays
# them out) that has no `// whole:` comment, in its body or just above it, saying why it reads
# better whole; exits 1 if there is any. Usage: tools/long-fns.sh [max_lines]
set -euo pipefail
cd "$(dirname "$0")/.."
max="${1:-100}"
found=0
while IFS= read -r f; do
  out=$(awk -v max="$max" -v file="$f" '
    { line[NR] = $0 }
    END {
      for (i = 1; i <= NR; i++) {
        if (line[i] !~ /^ *(pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?(extern "C" )?fn [A-Za-z_]/) continue
        match(line[i], /^ */); ind = substr(line[i], 1, RLENGTH)
        # Skip declarations without a body (trait methods ending in ";").
        j = i; while (j <= NR && line[j] !~ /\{ *$/ && line[j] !~ /; *$/) j++
        if (j > NR || line[j] ~ /; *$/) continue
        if (line[j] ~ /\} *$/) continue
        e = j; while (e <= NR && line[e] != ind "}") e++
        if (e > NR) continue
        n = e - i + 1
        if (n <= max) continue
        whole = 0
        for (k = i - 1; k >= 1 && line[k] ~ /^ *(\/\/|#\[)/; k--) if (line[k] ~ /\/\/ whole:/) whole = 1
        for (k = i; k <= e; k++) if (line[k] ~ /\/\/ whole:/) whole = 1
        if (!whole) { name = line[i]; sub(/^ */, "", name); sub(/\(.*/, "", name); printf "%s:%d: %s (%d lines)\n", file, i, name, n }
      }
    }' "$f")
  if [ -n "$out" ]; then echo "$out"; found=1; fi
done < <(find src -name '*.rs' | sort)
if [ "$found" = 1 ]; then
  echo "functions over $max lines need splitting or a '// whole: <why>' comment" >&2
  exit 1
fi
