import CCCIServer
import CCCITestSupport
import Crypto
import Foundation
import Testing

@Suite struct SignatureTests {
    let secret = "a webhook secret"
    let body = Array("{\"action\":\"created\"}".utf8)

    @Test("a body signed with the node's secret verifies; any other body, secret or signature does not")
    func verification() {
        let key = SymmetricKey(data: Data(secret.utf8))
        let good = WebhookFixture.sign(body, secret: secret)
        #expect(GiteaForge.verify(signature: good, body: body, key: key))
        #expect(GiteaForge.verify(signature: good.uppercased(), body: body, key: key), "hex is case-insensitive")
        #expect(!GiteaForge.verify(signature: good, body: body + [0x20], key: key))
        #expect(!GiteaForge.verify(signature: WebhookFixture.sign(body, secret: "other"), body: body, key: key))
        #expect(!GiteaForge.verify(signature: String(good.dropLast(2)), body: body, key: key), "truncated")
        #expect(!GiteaForge.verify(signature: good + "00", body: body, key: key), "too long")
        #expect(!GiteaForge.verify(signature: "", body: body, key: key))
        #expect(!GiteaForge.verify(signature: String(repeating: "g", count: 64), body: body, key: key), "not hex")
    }

    @Test("the server's signature is the forge's: hex HMAC-SHA256 of the raw body")
    func sameAsTheForge() {
        #expect(GiteaForge.signature(of: body, secret: secret) == WebhookFixture.sign(body, secret: secret))
        // A known vector (RFC 4231 test case 2).
        #expect(
            GiteaForge.signature(of: Array("what do ya want for nothing?".utf8), secret: "Jefe")
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
