import CCCISystem
import Foundation

/// Validates documents against the committed JSON Schemas with the reference implementation
/// (Python's `jsonschema`, draft 2020-12) through `scripts/validate-json-schema.py`.
public enum SchemaValidation {
    /// `schemas/results.schema.json`.
    public static var resultsSchema: URL {
        TestEnvironment.repositoryRoot.appendingPathComponent("schemas/results.schema.json")
    }

    /// The validation errors of `document` (empty when valid).
    public static func errors(of document: Data, schema: URL = resultsSchema) async throws -> [String] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ccci-schema-\(UUID().uuidString).json")
        try document.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await errors(ofFile: file, schema: schema)
    }

    /// The validation errors of the JSON file at `file`.
    public static func errors(ofFile file: URL, schema: URL = resultsSchema) async throws -> [String] {
        let script = TestEnvironment.repositoryRoot.appendingPathComponent("scripts/validate-json-schema.py")
        let result = try await ProcessRunner().run(Command("python3", [script.path, schema.path, file.path]))
        if result.status == 0 { return [] }
        guard result.status == 1 else {
            throw TestSetupError(
                "schema validation could not run (python3 with jsonschema is needed): \(result.tail())")
        }
        return result.output.split(separator: "\n").map(String.init)
    }
}
