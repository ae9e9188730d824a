#!/usr/bin/env bash
# The package READMEs' examples compile and run. In each Packages/<Name>/README.md
# the Swift block that follows the comment
#
#     <!-- compiled in CI; prints: TEXT -->
#
# is the example: it becomes main.swift of an executable target `readme-<Name>`
# in one scratch package (a temp dir) that depends on the packages it imports
# by path (`.package(path: "…/Packages/<Name>")`), so every dependency is built
# once for all the examples. Each example must build, exit 0 and print a line
# that contains TEXT. A compiler error is reported against the README's line.
#
# Usage: .ci/readme-examples.sh [Name ...]   (default: every package)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
marker='<!-- compiled in CI; prints: '

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for d in Packages/*/; do names+=("$(basename "$d")"); done
fi
all_packages=()
for d in Packages/*/; do all_packages+=("$(basename "$d")"); done

work=$(mktemp -d /tmp/numaheap-readme-examples.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg/Sources" "$work/meta"

# --- Extract each README's example -------------------------------------------------
targets=""
used_packages=" "
for name in "${names[@]}"; do
    readme="Packages/$name/README.md"
    [ -f "$readme" ] || { echo "readme-examples: $readme: no such file" >&2; exit 1; }
    src="$work/pkg/Sources/readme-$name"
    mkdir -p "$src"
    # Writes main.swift, the README line of its first line (meta/<Name>.line) and the expected text (meta/<Name>.expect).
    python3 - "$readme" "$src" "$marker" "$work/meta/$name" <<'PY'
import sys
readme, src, marker, meta = sys.argv[1:]
lines = open(readme, encoding="utf-8").read().split("\n")
starts = [i for i, l in enumerate(lines) if l.startswith(marker)]
if len(starts) != 1:
    sys.exit(f"{readme}: expected one '{marker}\"…\" -->' comment, found {len(starts)}")
i = starts[0]
rest = lines[i][len(marker):]
if not (rest.startswith('"') and rest.endswith('" -->')) or len(rest) < 7:
    sys.exit(f'{readme}:{i + 1}: the comment must read {marker}"TEXT" -->')
expect = rest[1:-len('" -->')]
j = i + 1
while j < len(lines) and lines[j].strip() == "":
    j += 1
if j >= len(lines) or lines[j].strip() != "```swift":
    sys.exit(f"{readme}:{i + 1}: no ```swift block right after the comment")
k = j + 1
while k < len(lines) and lines[k].strip() != "```":
    k += 1
if k >= len(lines):
    sys.exit(f"{readme}:{j + 1}: the ```swift block never ends")
open(f"{src}/main.swift", "w", encoding="utf-8").write("\n".join(lines[j + 1:k]) + "\n")
open(f"{meta}.line", "w").write(str(j + 2))
open(f"{meta}.expect", "w", encoding="utf-8").write(expect)
PY
    deps=""
    for module in $(sed -n 's/^import \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$src/main.swift" | sort -u); do
        for p in "${all_packages[@]}"; do
            if [ "$p" = "$module" ]; then
                deps+=".product(name: \"$p\", package: \"$p\"), "
                used_packages+="$p "
            fi
        done
    done
    targets+="        .executableTarget(name: \"readme-$name\", dependencies: [$deps]),
"
done

package_deps=""
for p in $(tr ' ' '\n' <<<"$used_packages" | sort -u); do package_deps+="        .package(path: \"$repo/Packages/$p\"),
"; done
cat > "$work/pkg/Package.swift" <<MANIFEST
// swift-tools-version: 6.1
import PackageDescription
let package = Package(
    name: "readme-examples",
    dependencies: [
$package_deps    ],
    targets: [
$targets    ]
)
MANIFEST

# --- Build them all at once ----------------------------------------------------------
echo "readme-examples: building ${names[*]}"
if ! swift build --package-path "$work/pkg" --scratch-path "$repo/.build-readme" > "$work/build.log" 2>&1; then
    # Point each error at its README line.
    python3 - "$work" "${names[@]}" <<'PY' >&2
import re, sys
work, names = sys.argv[1], sys.argv[2:]
log = open(f"{work}/build.log", encoding="utf-8", errors="replace").read().split("\n")
pat = re.compile(r"^(?:.*/)?Sources/readme-([A-Za-z]+)/main\.swift:(\d+):(\d+): (error|warning): (.*)$")
reported = set()
for l in log:
    m = pat.match(l)
    if not m:
        continue
    name, line, col, kind, text = m.groups()
    first = int(open(f"{work}/meta/{name}.line").read())
    key = (name, line, col, text)
    if kind == "error" and key not in reported:
        reported.add(key)
        print(f"Packages/{name}/README.md:{first + int(line) - 1}:{col}: error: {text}")
if not reported:
    print("\n".join(l for l in log if "error" in l.lower()) or "\n".join(log[-40:]))
failed = sorted({k[0] for k in reported})
print(f"readme-examples: the example of {', '.join(f'Packages/{n}/README.md' for n in failed) or 'a README'} does not compile")
PY
    exit 1
fi

# --- Run each and check its output ----------------------------------------------------
bin=$(swift build --package-path "$work/pkg" --scratch-path "$repo/.build-readme" --show-bin-path)
status=0
for name in "${names[@]}"; do
    expect=$(cat "$work/meta/$name.expect")
    set +e
    out=$("$bin/readme-$name" 2>&1)
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        echo "readme-examples: Packages/$name/README.md: the example exited with status $rc" >&2
        status=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        echo "readme-examples: Packages/$name/README.md: the example did not print \"$expect\"" >&2
        status=1
    else
        echo "readme-examples: Packages/$name/README.md: ok ($(grep -F -- "$expect" <<<"$out" | head -1))"
    fi
done
exit "$status"
