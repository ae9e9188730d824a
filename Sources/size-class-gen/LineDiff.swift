/// A minimal line diff for `--check`: the common leading and trailing lines
/// are skipped and the rest is shown as one hunk, `-` for the file and `+`
/// for the generator's output. Tables change in place, so one hunk is enough
/// to see what moved.
enum LineDiff {
    static func unified(old: String, new: String, oldName: String, newName: String) -> String {
        let a = old.split(separator: "\n", omittingEmptySubsequences: false)
        let b = new.split(separator: "\n", omittingEmptySubsequences: false)
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
              a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        let removed = a[prefix..<(a.count - suffix)]
        let added = b[prefix..<(b.count - suffix)]
        var out = "--- \(oldName)\n+++ \(newName)\n"
        out += "@@ -\(prefix + 1),\(removed.count) +\(prefix + 1),\(added.count) @@\n"
        for line in removed { out += "-\(line)\n" }
        for line in added { out += "+\(line)\n" }
        return out
    }
}
