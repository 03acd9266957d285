// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceSandbox", targets: ["SluiceSandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // Spec model, JSON with source positions, JSON Schema validator, windows, planner, plan and
        // state models, and the providers (Providers/<name>/: each API's rules, requests and the
        // conversation its client holds through the ProviderAPI protocol, listed in ProviderCatalog).
        // No networking, no disk and no argument parsing: everything here is pure and testable.
        .target(
            name: "SluiceCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The HTTP behaviour the providers' clients share (APIClient, the real ProviderAPI): credential
        // pinning, deadlines, retries with backoff and jitter, Retry-After, rate limits, downloads.
        .target(
            name: "SluiceProviders",
            dependencies: [
                "SluiceCore",
                "CSluiceSystem",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The executor, state stores and destinations (each behind one protocol): a directory, S3 (our
        // own SigV4 signer on AsyncHTTPClient), SQLite (GRDB) and PostgreSQL (postgres-nio) upserts.
        .target(
            name: "SluiceApply",
            dependencies: [
                "SluiceCore",
                "SluiceProviders",
                "CSluiceSystem",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // renameat2(RENAME_EXCHANGE), which Glibc's Swift overlay does not expose.
        .target(name: "CSluiceSystem"),
        // The five imitation export APIs on Hummingbird. Independent of SluiceCore on purpose: it is a
        // second, separate reading of the vendors' docs, so a client bug cannot hide behind a shared one.
        .target(
            name: "SluiceSandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // ArgumentParser commands, one per file; each run() builds options and calls a library.
        .target(
            name: "SluiceCLI",
            dependencies: [
                "SluiceCore",
                "SluiceApply",
                "SluiceSandbox",
                "SluiceProviders",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "sluice", dependencies: ["SluiceCLI"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(
            name: "SluiceApplyTests",
            dependencies: ["SluiceApply", "SluiceCore", "SluiceProviders", "SluiceSandbox", "SluiceTestSupport",
                           .product(name: "ZIPFoundation", package: "ZIPFoundation"), .product(name: "Crypto", package: "swift-crypto"),
                           .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "SluiceProvidersTests",
            dependencies: [
                "SluiceCore", "SluiceProviders", "SluiceSandbox", "SluiceTestSupport",
                // To probe the file system for direct I/O the way DownloadFile opens its files.
                "CSluiceSystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "SluiceSandboxTests",
            dependencies: [
                "SluiceSandbox",
                "SluiceTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                // To open the files the sandbox serves (zip, gzip) independently of its own code.
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Golden files are read from the source tree (re-recorded with SLUICE_RECORD_GOLDEN=1), not bundled.
        .testTarget(name: "SluiceCLITests", dependencies: ["SluiceCLI", "SluiceCore", "SluiceApply", "SluiceSandbox", "SluiceTestSupport"], exclude: ["Golden"]),
        // Helpers shared by the test targets: reading exported windows independently of sluice's code, and
        // a throwaway PostgreSQL database per test.
        .target(
            name: "SluiceTestSupport",
            dependencies: ["SluiceCore", "SluiceSandbox", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Crypto", package: "swift-crypto"),
                           // The hostile imitation of a vendor (HostileServer.swift).
                           .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "HTTPTypes", package: "swift-http-types"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "Tests/SluiceTestSupport"
        ),
    ]
)
