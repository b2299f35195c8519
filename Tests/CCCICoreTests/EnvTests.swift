import CCCICore
import Testing

@Suite struct EnvFileParsing {
    @Test("KEY=value lines and `export KEY=value` lines both assign")
    func plainAndExport() throws {
        let file = try EnvFile.parse("A=1\nexport B=two\nexport   C=3\n", source: "t.env")
        #expect(file.values == ["A": "1", "B": "two", "C": "3"])
        #expect(file.entries.map(\.key) == ["A", "B", "C"])
        #expect(file.entries.map(\.line) == [1, 2, 3])
    }

    @Test("an empty value is an empty string, and spaces around '=' are not part of the key or value")
    func emptyAndSpaced() throws {
        let file = try EnvFile.parse("EMPTY=\nSPACED = value\n", source: "t.env")
        #expect(file["EMPTY"] == "")
        #expect(file["SPACED"] == "value")
    }

    @Test("single quotes are literal: no escapes, no expansion, '#' kept")
    func singleQuotes() throws {
        let file = try EnvFile.parse(#"A=x"# + "\n" + #"B='$A ${A} \n # not a comment'"#, source: "t.env")
        #expect(file["B"] == #"$A ${A} \n # not a comment"#)
    }

    @Test("double quotes process escapes and expand $VAR, while \\$ stays a literal dollar")
    func doubleQuotes() throws {
        let text = """
            NAME=world
            A="hello $NAME"
            B="tab\\there"
            C="line1\\nline2"
            D="quote \\" inside"
            E="cost \\$NAME"
            F="back\\\\slash"
            G="# not a comment"
            """
        let file = try EnvFile.parse(text, source: "t.env")
        #expect(file["A"] == "hello world")
        #expect(file["B"] == "tab\there")
        #expect(file["C"] == "line1\nline2")
        #expect(file["D"] == "quote \" inside")
        #expect(file["E"] == "cost $NAME")
        #expect(file["F"] == #"back\slash"#)
        #expect(file["G"] == "# not a comment")
    }

    @Test("an unquoted value ends at ' #', and the comment's key=value words become modifiers")
    func commentsAndModifiers() throws {
        let text = """
            SECRET_X_VERSION=v1 # length=32
            SECRET_Y_VERSION=v2  # length=48 charset=special,generate=false
            HASH=abc#def
            QUOTED="v3" # length=12
            """
        let file = try EnvFile.parse(text, source: "t.env")
        let x = try #require(file.entry("SECRET_X_VERSION"))
        #expect(x.value == "v1")
        #expect(x.modifiers["length"] == "32")
        #expect(x.comment?.contains("length=32") == true)
        let y = try #require(file.entry("SECRET_Y_VERSION"))
        #expect(y.value == "v2")
        #expect(y.modifiers == ["length": "48", "charset": "special", "generate": "false"])
        #expect(file["HASH"] == "abc#def", "a '#' not preceded by whitespace is part of the value")
        #expect(file.entry("HASH")?.comment == nil)
        let quoted = try #require(file.entry("QUOTED"))
        #expect(quoted.value == "v3")
        #expect(quoted.modifiers["length"] == "12")
    }

    @Test("a line without a trailing comment has no modifiers")
    func noModifiers() throws {
        let file = try EnvFile.parse("A=b\n", source: "t.env")
        #expect(file.entry("A")?.modifiers == [:])
        #expect(file.entry("A")?.comment == nil)
    }

    @Test("$VAR and ${VAR} expand from keys defined earlier; undefined and later keys expand to nothing")
    func expansion() throws {
        let text = """
            HOST=example.org
            URL=https://$HOST/path
            BRACED=${HOST}_x
            GLUED=$HOST_x
            EARLY=$LATER
            LATER=late
            UNDEFINED=[$NOPE]
            DOLLAR_ALONE=a$
            """
        let file = try EnvFile.parse(text, source: "t.env")
        #expect(file["URL"] == "https://example.org/path")
        #expect(file["BRACED"] == "example.org_x")
        #expect(file["GLUED"] == "", "`$HOST_x` names the variable HOST_x, which is undefined")
        #expect(file["EARLY"] == "", "expansion only sees keys defined above")
        #expect(file["UNDEFINED"] == "[]")
        #expect(file["DOLLAR_ALONE"] == "a$")
    }

    @Test("a later assignment of a key wins, and expansion uses the value current at that line")
    func reassignment() throws {
        let file = try EnvFile.parse("A=1\nB=$A\nA=2\nC=$A\n", source: "t.env")
        #expect(file["A"] == "2")
        #expect(file["B"] == "1")
        #expect(file["C"] == "2")
        #expect(file.entries.filter { $0.key == "A" }.count == 2)
    }

    @Test("COMPOSE_FILE=\"$COMPOSE_FILE:x\" extends compose.yml when COMPOSE_FILE was not set before")
    func composeFileSelfReferenceUndefined() throws {
        let file = try EnvFile.parse(#"COMPOSE_FILE="$COMPOSE_FILE:compose.smtp.yml""#, source: "t.env")
        #expect(file["COMPOSE_FILE"] == "compose.yml:compose.smtp.yml")
    }

    @Test("COMPOSE_FILE self-reference extends the earlier value when there is one")
    func composeFileSelfReferenceDefined() throws {
        let text = """
            COMPOSE_FILE="compose.yml:compose.mailrelay.yml"
            COMPOSE_FILE="$COMPOSE_FILE:compose.smtp.yml"
            """
        let file = try EnvFile.parse(text, source: "t.env")
        #expect(file["COMPOSE_FILE"] == "compose.yml:compose.mailrelay.yml:compose.smtp.yml")
    }

    @Test("CRLF line endings are accepted")
    func crlf() throws {
        // A CRLF pair is a single Character in Swift: splitting on LF alone would read the file as one line.
        let file = try EnvFile.parse("A=1\r\nB=\"two\"\r\n", source: "t.env")
        #expect(file.values == ["A": "1", "B": "two"])
    }
}

@Suite struct EnvFileRendering {
    static let sample = """
        # Top comment
        TYPE=custom-php

        ## Domain aliases
        #EXTRA_DOMAINS=', `www.example.com`'
        DOMAIN=example.com
        SECRET_DB_PASSWORD_VERSION=v1 # length=32
        export GREETING="hello world"
        LITERAL='$NOT_EXPANDED'
        """

    @Test("comment and blank lines survive rendering in place")
    func keepsLayout() throws {
        let file = try EnvFile.parse(Self.sample, source: "sample")
        let rendered = file.rendered().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(rendered[0] == "# Top comment")
        #expect(rendered[1] == "TYPE=custom-php")
        #expect(rendered[2] == "")
        #expect(rendered[3] == "## Domain aliases")
        #expect(rendered[4] == "#EXTRA_DOMAINS=', `www.example.com`'")
        #expect(rendered[5] == "DOMAIN=example.com")
        #expect(rendered[6].hasPrefix("SECRET_DB_PASSWORD_VERSION=v1 #"))
        #expect(rendered[6].contains("length=32"))
    }

    @Test("re-parsing the rendered file gives the same values and modifiers")
    func roundTrip() throws {
        let file = try EnvFile.parse(Self.sample, source: "sample")
        let again = try EnvFile.parse(file.rendered(), source: "rendered")
        #expect(again.values == file.values)
        #expect(again.values["LITERAL"] == "$NOT_EXPANDED")
        #expect(again.entry("SECRET_DB_PASSWORD_VERSION")?.modifiers == ["length": "32"])
    }

    @Test(
        "values with spaces, quotes, dollars, hashes, backslashes, tabs and newlines survive a render round trip",
        arguments: [
            "two words", "it's", "say \"hi\"", "$HOME", "it's $5", "a # b", "#start", "back\\slash", "tab\there",
            "line1\nline2", "it's\nmultiline", "`cmd`", "  padded  ",
        ])
    func roundTripAwkwardValues(value: String) throws {
        var file = EnvFile()
        file.set("V", value)
        // A value with a line break must be written back on one line (double quotes, backslash-n escape).
        let again = try EnvFile.parse(file.rendered(), source: "rendered")
        #expect(again["V"] == value)
    }

    @Test("set rewrites the last assignment of a key in place and keeps its modifiers")
    func setRewritesLast() throws {
        var file = try EnvFile.parse("A=1\nB=2 # length=8\nA=3\nC=4\n", source: "t.env")
        file.set("A", "new")
        file.set("B", "v2")
        #expect(file.entries.map(\.key) == ["A", "B", "A", "C"])
        #expect(file.entries.map(\.value) == ["1", "v2", "new", "4"])
        #expect(file.entry("B")?.modifiers == ["length": "8"])
        #expect(file.rendered() == "A=1\nB=v2 # length=8\nA=new\nC=4\n")
    }

    @Test("set appends a key that is not in the file")
    func setAppends() throws {
        var file = try EnvFile.parse("# c\nA=1\n", source: "t.env")
        file.set("NEW", "value")
        #expect(file.entries.map(\.key) == ["A", "NEW"])
        #expect(file["NEW"] == "value")
        #expect(file.rendered() == "# c\nA=1\nNEW=value\n")
    }
}

@Suite struct EnvFileErrors {
    @Test("a line without '=' is a malformed line naming the file and line number")
    func malformed() {
        #expect(throws: EnvError.malformedLine(source: "app.env", line: 3, text: "JUSTTEXT")) {
            try EnvFile.parse("A=1\n# ok\nJUSTTEXT\n", source: "app.env")
        }
        let error = EnvError.malformedLine(source: "app.env", line: 3, text: "JUSTTEXT")
        #expect(error.description.contains("app.env:3"))
        #expect(error.description.contains("JUSTTEXT"))
    }

    @Test("invalid variable names are rejected with file and line", arguments: ["1ABC", "MY-KEY", "A B", "", "ÄPFEL"])
    func invalidKeys(key: String) {
        #expect(throws: EnvError.invalidKey(source: "s", line: 2, key: key)) {
            try EnvFile.parse("OK=1\n\(key)=x\n", source: "s")
        }
    }

    @Test("an unterminated quote is an error naming the file and line", arguments: ["A=\"abc", "A='abc", "A=\"a\\\""])
    func unterminated(line: String) {
        #expect(throws: EnvError.unterminatedQuote(source: ".env.sample", line: 2)) {
            try EnvFile.parse("X=1\n\(line)\nY=2\n", source: ".env.sample")
        }
        let description = EnvError.unterminatedQuote(source: ".env.sample", line: 2).description
        #expect(description.contains(".env.sample:2"))
    }

    @Test("error messages name the file, line and offending key")
    func descriptions() {
        let description = EnvError.invalidKey(source: "recipe/.env.sample", line: 7, key: "MY-KEY").description
        #expect(description.contains("recipe/.env.sample:7"))
        #expect(description.contains("MY-KEY"))
    }
}

@Suite struct AppEnvFromSample {
    static let sampleText = """
        TYPE=web
        DOMAIN=web.example.com
        ## aliases
        EXTRA_DOMAINS=', `www.web.example.com`'
        OTHER=other.example.com
        COMPOSE_FILE="compose.yml:compose.smtp.yml"
        SECRET_DB_PASSWORD_VERSION=v1 # length=32
        SECRET_API_KEY_VERSION=v3
        SECRET_MANUAL_VERSION=v2 # generate=false
        """

    func makeEnv(domain: String = "web-1a2b3c.ci.ccci.test") throws -> AppEnv {
        AppEnv(sample: try EnvFile.parse(Self.sampleText, source: ".env.sample"), recipe: "web", domain: domain)
    }

    @Test("<recipe>.example.com placeholders become the domain, other example.com names stay")
    func replacesPlaceholders() throws {
        let env = try makeEnv()
        #expect(env.values["EXTRA_DOMAINS"] == ", `www.web-1a2b3c.ci.ccci.test`")
        #expect(env.values["OTHER"] == "other.example.com")
    }

    @Test("DOMAIN is set to the app's domain, in place")
    func setsDomain() throws {
        let env = try makeEnv()
        #expect(env.values["DOMAIN"] == "web-1a2b3c.ci.ccci.test")
        #expect(env.file.entries.filter { $0.key == "DOMAIN" }.count == 1)
        #expect(env.file.entries.first?.key == "TYPE", "the file keeps its order")
    }

    @Test("DOMAIN is appended when the sample has none")
    func appendsDomain() throws {
        let env = AppEnv(sample: try EnvFile.parse("TYPE=x\n", source: "s"), recipe: "x", domain: "x.test.org")
        #expect(env.values["DOMAIN"] == "x.test.org")
    }

    @Test("TYPE from the sample is kept; a sample without TYPE or RECIPE gets TYPE=<recipe>")
    func type() throws {
        let kept = AppEnv(sample: try EnvFile.parse("TYPE=custom-php\n", source: "s"), recipe: "cp", domain: "a.b.c")
        #expect(kept.values["TYPE"] == "custom-php")
        let added = AppEnv(sample: try EnvFile.parse("A=1\n", source: "s"), recipe: "cp", domain: "a.b.c")
        #expect(added.values["TYPE"] == "cp")
        let recipeKey = AppEnv(sample: try EnvFile.parse("RECIPE=cp\n", source: "s"), recipe: "cp", domain: "a.b.c")
        #expect(recipeKey.values["TYPE"] == nil)
        #expect(recipeKey.values["RECIPE"] == "cp")
    }

    @Test("the stack name is the domain with dots as underscores, cut to 45 characters")
    func stackName() throws {
        let env = try makeEnv()
        #expect(env.stackName == "web-1a2b3c_ci_ccci_test")
        let long = String(repeating: "a", count: 30) + "." + String(repeating: "b", count: 30) + ".org"
        let longEnv = try makeEnv(domain: long)
        #expect(longEnv.stackName.count == 45)
        #expect(longEnv.stackName == String(long.replacingOccurrences(of: ".", with: "_").prefix(45)))
    }

    @Test("STACK_NAME is part of the interpolation environment")
    func interpolationEnvironment() throws {
        let env = try makeEnv()
        #expect(env.interpolationEnvironment["STACK_NAME"] == env.stackName)
        #expect(env.interpolationEnvironment["DOMAIN"] == env.domain)
    }

    @Test("COMPOSE_FILE is split on ':'; without it the app deploys compose.yml")
    func composeFiles() throws {
        #expect(try makeEnv().composeFiles == ["compose.yml", "compose.smtp.yml"])
        let plain = AppEnv(sample: try EnvFile.parse("TYPE=x\n", source: "s"), recipe: "x", domain: "x.a.b")
        #expect(plain.composeFiles == ["compose.yml"])
        let messy = AppEnv(
            sample: try EnvFile.parse("COMPOSE_FILE=\"compose.yml::compose.a.yml:\"\n", source: "s"), recipe: "x",
            domain: "x.a.b")
        #expect(messy.composeFiles == ["compose.yml", "compose.a.yml"])
    }

    @Test("overrides set keys on top of the sample, existing or new")
    func overrides() throws {
        let env = try makeEnv().applying(["COMPOSE_FILE": "compose.yml", "NEW_KEY": "yes"])
        #expect(env.composeFiles == ["compose.yml"])
        #expect(env.values["NEW_KEY"] == "yes")
        #expect(env.values["TYPE"] == "web")
        #expect(env.file.entries.filter { $0.key == "COMPOSE_FILE" }.count == 1)
    }

    @Test("SECRET_<NAME>_VERSION lines become secret versions with lower-case names and their modifiers")
    func secretVersions() throws {
        let versions = try makeEnv().secretVersions
        #expect(versions.map(\.name) == ["api_key", "db_password", "manual"])
        let db = try #require(versions.first { $0.name == "db_password" })
        #expect(db.envKey == "SECRET_DB_PASSWORD_VERSION")
        #expect(db.version == "v1")
        #expect(db.modifiers["length"] == "32")
    }
}

@Suite struct AppEnvSecrets {
    static let composeYAML = """
        services:
          app:
            image: nginx
            secrets: [db_password, api_key, manual]
        secrets:
          db_password:
            external: true
            name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
          api_key:
            external: true
          manual:
            external: true
            name: ${STACK_NAME}_manual_${SECRET_MANUAL_VERSION}
          from_file:
            file: ./secret.txt
        """

    func project(_ yaml: String, env: AppEnv) throws -> ComposeProject {
        let document = try ComposeDocument.load(
            yaml: yaml, name: "compose.yml", environment: env.interpolationEnvironment)
        return try ComposeProject(document: document, files: ["compose.yml"])
    }

    func env(_ sample: String, domain: String = "web-1a2b3c.ci.ccci.test") throws -> AppEnv {
        AppEnv(sample: try EnvFile.parse(sample, source: ".env.sample"), recipe: "web", domain: domain)
    }

    @Test("every external secret is joined with its version line; the docker name comes from the compose `name:`")
    func joinsSecrets() throws {
        let env = try env(
            """
            SECRET_DB_PASSWORD_VERSION=v1 # length=32
            SECRET_API_KEY_VERSION=v3
            SECRET_MANUAL_VERSION=v2 # generate=false
            """)
        let specs = try env.secrets(for: project(Self.composeYAML, env: env))
        #expect(specs.map(\.name) == ["api_key", "db_password", "manual"], "file-based secrets are not created")
        let db = try #require(specs.first { $0.name == "db_password" })
        #expect(db.dockerName == "web-1a2b3c_ci_ccci_test_db_password_v1")
        #expect(db.version == "v1")
        #expect(db.length == 32)
        #expect(db.generate)
        let api = try #require(specs.first { $0.name == "api_key" })
        #expect(
            api.dockerName == "web-1a2b3c_ci_ccci_test_api_key_v3", "without `name:` it is <stack>_<name>_<version>")
        #expect(api.length == nil)
        let manual = try #require(specs.first { $0.name == "manual" })
        #expect(!manual.generate)
        #expect(manual.dockerName == "web-1a2b3c_ci_ccci_test_manual_v2")
    }

    @Test("an external secret without a version line is an error naming the env key to add")
    func missingVersion() throws {
        let env = try env("SECRET_DB_PASSWORD_VERSION=v1\nSECRET_MANUAL_VERSION=v1\n")
        let expected = AppEnvError.missingSecretVersion(
            recipe: "web", secret: "api_key", envKey: "SECRET_API_KEY_VERSION")
        #expect(throws: expected) { try env.secrets(for: project(Self.composeYAML, env: env)) }
        #expect(expected.description.contains("SECRET_API_KEY_VERSION"))
        #expect(expected.description.contains("api_key"))
    }

    @Test(
        "a secret whose name is versioned by another variable (bonfire's orchid_client_secret by SECRET_ORCID_…) takes its version from its name, as abra does"
    )
    func versionFromName() throws {
        let yaml = """
            services:
              app:
                image: x
            secrets:
              orchid_client_secret:
                external: true
                name: ${STACK_NAME}_orchid_client_secret_${SECRET_ORCID_CLIENT_SECRET_VERSION:-v1}
            """
        let set = try env("SECRET_ORCID_CLIENT_SECRET_VERSION=v4\n")
        let spec = try #require(try set.secrets(for: project(yaml, env: set)).first)
        #expect(spec.version == "v4" && spec.dockerName == "\(set.stackName)_orchid_client_secret_v4")
        let unset = try env("OTHER=1\n")
        #expect(try unset.secrets(for: project(yaml, env: unset)).first?.version == "v1", "the name's default")
        // A name that ends without a version is still an error naming the key to add.
        let bare = yaml.replacingOccurrences(of: ":-v1}", with: "}")
        #expect(throws: AppEnvError.self) { try unset.secrets(for: project(bare, env: unset)) }
    }

    @Test(
        "a length modifier that is not a number between 1 and 4096 is an error", arguments: ["abc", "0", "-1", "5000"])
    func badLength(length: String) throws {
        let env = try env("SECRET_TOKEN_VERSION=v1 # length=\(length)\n")
        let yaml = "services:\n  app:\n    image: x\nsecrets:\n  token:\n    external: true\n"
        #expect(throws: AppEnvError.invalidLength(recipe: "web", envKey: "SECRET_TOKEN_VERSION", value: length)) {
            try env.secrets(for: project(yaml, env: env))
        }
    }

    @Test("a docker secret name longer than 64 characters is an error")
    func nameTooLong() throws {
        let domain = String(repeating: "d", count: 40) + ".example.org"
        let env = try env("SECRET_A_RATHER_LONG_SECRET_NAME_VERSION=v1\n", domain: domain)
        let yaml = "services:\n  app:\n    image: x\nsecrets:\n  a_rather_long_secret_name:\n    external: true\n"
        let dockerName = "\(env.stackName)_a_rather_long_secret_name_v1"
        #expect(dockerName.count > 64)
        #expect(throws: AppEnvError.secretNameTooLong(name: dockerName, domain: domain)) {
            try env.secrets(for: project(yaml, env: env))
        }
    }

    @Test("a docker secret name of exactly 64 characters is accepted")
    func nameAtLimit() throws {
        // stack (23) + "_" + id + "_v1" (3) = 64 → id of 37 characters.
        let id = String(repeating: "s", count: 37)
        let env64 = try env("SECRET_\(id.uppercased())_VERSION=v1\n", domain: "web-1a2b3c.ci.ccci.test")
        let yaml = "services:\n  app:\n    image: x\nsecrets:\n  \(id):\n    external: true\n"
        let specs = try env64.secrets(for: project(yaml, env: env64))
        #expect(specs.first?.dockerName.count == 64)
    }
}

@Suite struct AbraScriptExports {
    @Test("export lines of abra.sh are read, quotes removed and trailing comments dropped; other lines ignored")
    func exports() {
        let text = """
            #!/bin/bash
            export ENTRYPOINT_CONF_VERSION=v2
            export NGINX_CONF_VERSION="v3" # bumped
            export QUOTED='v4'
            FOO=not-exported
            export not-a-name=1
            environment() { echo hi; }
            export ENTRYPOINT_CONF_VERSION=v5
            """
        #expect(
            AbraScript.exports(in: text) == [
                "ENTRYPOINT_CONF_VERSION": "v5", "NGINX_CONF_VERSION": "v3", "QUOTED": "v4",
            ])
    }

    @Test("abra.sh with CRLF line endings gives the same exports")
    func crlf() {
        // CRLF line endings, as for env files.
        #expect(AbraScript.exports(in: "export A=v1\r\nexport B=v2\r\n") == ["A": "v1", "B": "v2"])
    }
}
