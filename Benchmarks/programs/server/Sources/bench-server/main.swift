// bench-server [PORT (8080)]: two routes on 127.0.0.1 for wrk.
//   GET /plaintext  "Hello, World!"
//   GET /json       a JSON array of 40 objects (strings, ints, a nested array
//                   and a dictionary), built afresh for every request, so each
//                   request allocates and frees a few hundred blocks besides
//                   what NIO and the encoder allocate.
import Hummingbird
import Logging
#if canImport(Glibc)
import Glibc
#endif

struct Item: Codable {
    let id: Int
    let name: String
    let email: String
    let score: Int
    let tags: [String]
    let attributes: [String: Int]
}

func makeItems(seed: Int) -> [Item] {
    (0..<40).map { i in
        let n = seed &+ i   // seed: the port, the same for every request
        return Item(
            id: i,
            name: "item-\(i)-\(String(repeating: "x", count: i % 9))",
            email: "user\(i)@example.com",
            score: (i &* 7919) % 1000,
            tags: ["t\(i % 3)", "u\(i % 5)", "v\(i % 7)"],
            attributes: ["a": i, "b": i &* 2, "c": n % 10]
        )
    }
}

let port = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? -1 : 8080
guard (1...65535).contains(port) else {
    print("bench-server: PORT must be 1-65535, not '\(CommandLine.arguments[1])'")
    exit(2)
}

let router = Router()
router.get("/plaintext") { _, _ in "Hello, World!" }
router.get("/json") { _, _ -> [Item] in makeItems(seed: port) }

var logger = Logger(label: "bench-server")
logger.logLevel = .warning
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    logger: logger
)
try await app.runService()
