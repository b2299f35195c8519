import CCCICore
import CCCITestSupport
import Foundation
import Testing

@Suite struct GeneratedDocs {
    @Test(
        "docs/customization.md is exactly what the registry generates (regenerate: ccci meta docs > docs/customization.md)"
    )
    func customizationDocsInSync() throws {
        let file = TestEnvironment.repositoryRoot.appendingPathComponent("docs/customization.md")
        let committed = try String(contentsOf: file, encoding: .utf8)
        #expect(committed == MetaDocs.markdown())
    }
}
