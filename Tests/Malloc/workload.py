"""A dict/list/string-heavy Python workload with deterministic output (run by
Tests/Malloc/run.sh with and without libNUMAHeapMalloc.so preloaded; the two
outputs must be identical)."""
import collections
import hashlib
import json
import random

rng = random.Random(12345)
words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 12))) for _ in range(50000)]

# Dicts: counting, nested, deletion churn.
counts = collections.Counter(words)
index = {}
for i, w in enumerate(words):
    index.setdefault(w[:2], []).append(i)
churn = {}
for i in range(300000):
    churn[i] = str(i) * (i % 7)
    if i % 3 == 0:
        del churn[i // 2]
print("distinct", len(counts), "top", counts.most_common(3))
print("prefixes", len(index), "churn", len(churn), sum(len(v) for v in churn.values()))

# Lists: sorting, slicing, comprehension, growth and shrink.
nums = [rng.randint(-10**9, 10**9) for _ in range(200000)]
nums.sort()
squares = [n * n % 1000003 for n in nums[::3]]
stack = []
for n in nums:
    stack.append(n)
    if n % 5 == 0:
        stack.pop()
print("nums", nums[0], nums[-1], sum(squares), len(stack))

# Strings: join, split, replace, format, encode.
text = " ".join(words)
parts = text.split("a")
rebuilt = "a".join(parts).replace("e", "E").upper()
formatted = [f"{w:>12}|{len(w):03d}|{hash(w) % 1 if False else len(w) * 7}" for w in words[:20000]]
print("text", len(text), len(parts), hashlib.sha256(rebuilt.encode()).hexdigest()[:16])
print("formatted", hashlib.sha256("\n".join(formatted).encode()).hexdigest()[:16])

# JSON round trip of a nested structure; big ints; bytes.
doc = {w: {"n": counts[w], "pos": index[w[:2]][:5]} for w in list(counts)[:20000]}
blob = json.dumps(doc, sort_keys=True)
back = json.loads(blob)
print("json", len(blob), back == doc)
big = 1
for i in range(1, 1400):
    big *= i
print("factorial digits", len(str(big)))
data = bytearray()
for i in range(100000):
    data += i.to_bytes(4, "little")
print("bytes", hashlib.sha256(bytes(data)).hexdigest()[:16])
