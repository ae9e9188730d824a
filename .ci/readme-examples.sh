#!/usr/bin/env bash
# The documented examples compile and run: each package README's
# (Packages/<Name>/README.md) and the getting-started article of each root
# library module with a catalogue (Sources/<Name>/<Name>.docc/GettingStarted.md:
# NUMAHeap, NUMAHeapCollected). In each file the Swift block that follows the
# comment
#
#     <!-- compiled in CI; prints: TEXT -->
#
# is the example: it becomes main.swift of an executable target `readme-<Name>`
# in a scratch package (a temp dir). The packages' examples share one, which
# depends on the packages they import by path (`.package(path:
# "…/Packages/<Name>")`), so every dependency is built once for all of them;
# the root modules' examples share another, which depends on the repository's
# root package by path (the two cannot be one package: both would declare the
# module Platform). Each example must build, exit 0 and print a line that
# contains TEXT. A compiler error is reported against the file's line.
#
# Usage: .ci/readme-examples.sh [Name ...]   (default: every package and root module)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
marker='<!-- compiled in CI; prints: '

root_modules=(NUMAHeap NUMAHeapCollected)
all_packages=()
for d in Packages/*/; do all_packages+=("$(basename "$d")"); done
requested=("$@")
if [ ${#requested[@]} -eq 0 ]; then requested=("${all_packages[@]}" "${root_modules[@]}"); fi

# The documented example's file of `name`.
doc_of() {
    if [ -d "Packages/$1" ]; then echo "Packages/$1/README.md"; else echo "Sources/$1/$1.docc/GettingStarted.md"; fi
}
is_root_module() { local m; for m in "${root_modules[@]}"; do [ "$m" = "$1" ] && return 0; done; return 1; }

work_root=$(mktemp -d /tmp/numaheap-readme-examples.XXXXXX)
trap 'rm -rf "$work_root"' EXIT
status=0

# run_group GROUP NAME...: extracts, builds and runs the examples of NAME...
# in the scratch package $work_root/GROUP ("packages" or "root").
run_group() {
local group=$1; shift
local names=("$@")
local work="$work_root/$group"
mkdir -p "$work/pkg/Sources" "$work/meta"

# --- Extract each README's example -------------------------------------------------
targets=""
used_packages=" "
for name in "${names[@]}"; do
    readme=$(doc_of "$name")
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
open(f"{meta}.file", "w", encoding="utf-8").write(readme)
PY
    deps=""
    for module in $(sed -n 's/^import \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p' "$src/main.swift" | sort -u); do
        if [ "$group" = root ]; then
            # Any library product of the root package.
            if is_root_module "$module" || [ -d "Packages/$module" ]; then
                deps+=".product(name: \"$module\", package: \"$(basename "$repo")\"), "
            fi
            continue
        fi
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
if [ "$group" = root ]; then
    package_deps="        .package(path: \"$repo\"),
"
else
    for p in $(tr ' ' '\n' <<<"$used_packages" | sort -u); do package_deps+="        .package(path: \"$repo/Packages/$p\"),
"; done
fi
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
if ! swift build --package-path "$work/pkg" --scratch-path "$repo/.build-readme-$group" > "$work/build.log" 2>&1; then
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
        doc = open(f"{work}/meta/{name}.file").read()
        print(f"{doc}:{first + int(line) - 1}:{col}: error: {text}")
if not reported:
    print("\n".join(l for l in log if "error" in l.lower()) or "\n".join(log[-40:]))
failed = sorted({k[0] for k in reported})
print(f"readme-examples: the example of {', '.join(open(f'{work}/meta/{n}.file').read() for n in failed) or 'a file'} does not compile")
PY
    exit 1
fi

# --- Run each and check its output ----------------------------------------------------
bin=$(swift build --package-path "$work/pkg" --scratch-path "$repo/.build-readme-$group" --show-bin-path)
for name in "${names[@]}"; do
    expect=$(cat "$work/meta/$name.expect")
    set +e
    out=$("$bin/readme-$name" 2>&1)
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        echo "readme-examples: $(doc_of "$name"): the example exited with status $rc" >&2
        status=1
    elif ! grep -qF -- "$expect" <<<"$out"; then
        printf '%s\n' "$out" | sed 's/^/    /' >&2
        echo "readme-examples: $(doc_of "$name"): the example did not print \"$expect\"" >&2
        status=1
    else
        echo "readme-examples: $(doc_of "$name"): ok ($(grep -F -- "$expect" <<<"$out" | head -1))"
    fi
done
}

packages=() roots=()
for name in "${requested[@]}"; do
    if is_root_module "$name"; then roots+=("$name"); else packages+=("$name"); fi
done
if [ ${#packages[@]} -gt 0 ]; then run_group packages "${packages[@]}"; fi
if [ ${#roots[@]} -gt 0 ]; then run_group root "${roots[@]}"; fi
exit "$status"
