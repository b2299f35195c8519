// swift-tools-version: 6.2
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "cc-ci",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ccci", targets: ["ccci"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-openapi-generator", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
    ],
    targets: [
        .target(name: "CSystemShims"),
        .target(
            name: "CCCICore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCISystem",
            dependencies: [
                "CCCICore", "CSystemShims",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCIGit",
            dependencies: ["CCCICore", "CCCISystem"],
            swiftSettings: strict
        ),
        .target(
            name: "CCCILint",
            dependencies: ["CCCICore", "CCCIGit"],
            swiftSettings: strict
        ),
        .target(
            name: "CCCISwarm",
            dependencies: [
                "CCCICore", "CCCISystem",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCIDeploy",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCISystem", .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCIStore",
            dependencies: [
                "CCCICore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCIRunner",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCIDeploy", "CCCIStore", "CCCISystem", "CCCILint", "CSystemShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The screenshot tier's browser program: a file linters and tests see, embedded in
            // the binary so that `ccci` needs nothing beside it.
            resources: [.embedInCode("Resources/screenshot.py")],
            swiftSettings: strict
        ),
        .target(
            name: "CCCILab",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCISystem", "CCCIDeploy",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [],
            swiftSettings: strict
        ),
        // The JSON API's types and server protocol, generated from `openapi.yaml` at build time.
        .target(
            name: "CCCIAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "CCCIWarm",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCIDeploy", "CCCIRunner", "CCCIStore", "CCCISystem",
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCIServer",
            dependencies: [
                "CCCICore", "CCCIStore", "CCCISystem", "CSystemShims", "CCCIAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CCCICommands",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCIDeploy", "CCCIRunner", "CCCIStore", "CCCILab", "CCCILint",
                "CCCIServer", "CCCISystem", "CCCIWarm", "CSystemShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "ccci", dependencies: ["CCCICommands", "CCCIRunner"], swiftSettings: strict),
        .executableTarget(
            name: "ccci-bench",
            dependencies: [
                "CCCICore", "CCCIDeploy", "CCCISwarm", "CCCISystem", "CCCILab", "CCCIGit", "CCCIServer", "CCCIStore",
                "CCCITestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ccci-bench",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ccci-fuzz",
            dependencies: ["CCCICore"],
            path: "Fuzz/ccci-fuzz",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "ccci-safety-helper",
            dependencies: ["CCCIRunner", "CCCISystem", "CCCICore"],
            path: "Tests/SafetyHelper",
            swiftSettings: strict
        ),
        .target(
            name: "CCCITestSupport",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCISystem", "CCCILab", "CCCIServer", "CCCIStore", "CCCIDeploy",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "Tests/Support",
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCICoreTests",
            dependencies: ["CCCICore", "CCCITestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCIUnitTests",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCIDeploy", "CCCILab", "CCCISystem", "CCCILint",
                "CCCITestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCIRunnerTests",
            dependencies: [
                "CCCICore", "CCCIRunner", "CCCIStore", "CCCISystem", "CCCIWarm",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCIStoreTests",
            dependencies: [
                "CCCICore", "CCCIStore", "CCCISystem", "CCCITestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCIServerTests",
            dependencies: [
                "CCCICore", "CCCIServer", "CCCIStore", "CCCISystem", "CCCITestSupport", "ccci",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CCCIIntegrationTests",
            dependencies: [
                "CCCICore", "CCCIGit", "CCCISwarm", "CCCIDeploy", "CCCIRunner", "CCCIStore", "CCCILab", "CCCILint",
                "CCCISystem", "CCCITestSupport", "CCCIWarm", "CCCIServer", "ccci", "ccci-safety-helper",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
