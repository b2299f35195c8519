import CCCICore
import Foundation
import Testing

/// The readers of what tests report: TAP as scripts print it, JUnit XML as pytest writes it.
@Suite struct TestReportReading {
    @Test("TAP 13: version, plan, passes, a failure with its YAML diagnostics, SKIP and TODO directives")
    func tap13() {
        let cases = TAP.parse(
            """
            TAP version 13
            1..5
            ok 1 - homepage answers
            not ok 2 - login works
              ---
              message: 'expected 302, got 500'
              severity: fail
              data:
                got: 500
              ...
            ok 3 - admin page # SKIP no admin account in CI
            not ok 4 - exports CSV # TODO not implemented yet
            ok 5 search finds the seeded entry
            # all done
            """)
        #expect(cases.map(\.status) == [.pass, .fail, .skip, .skip, .pass])
        #expect(cases[1].name == "login works")
        #expect(cases[1].message == "expected 302, got 500")
        #expect(cases[2].message == "SKIP no admin account in CI")
        #expect(cases[3].message?.contains("known failure") == true, "a failing TODO is not a failure")
        #expect(cases[4].name == "search finds the seeded entry")
    }

    @Test("TAP: a plan the tests do not match is a failure; 1..0 with SKIP skips everything")
    func plans() {
        let short = TAP.parse("1..3\nok 1 - a\nok 2 - b\n")
        #expect(short.last?.status == .fail)
        #expect(short.last?.message == "3 tests planned, 2 run")
        let trailing = TAP.parse("ok 1 - a\nok 2 - b\n1..2\n")
        #expect(trailing.allSatisfy { $0.status == .pass } && trailing.count == 2, "a plan at the end counts too")
        let none = TAP.parse("1..0 # SKIP no browser on this node\n")
        #expect(none == [ReportedCase(name: "all tests", status: .skip, message: "no browser on this node")])
    }

    @Test("TAP: Bail out! stops the run with a failure saying so")
    func bailOut() {
        let cases = TAP.parse("1..4\nok 1 - a\nBail out! database unreachable\nok 2 - never read\n")
        #expect(cases.count == 2)
        #expect(cases.last?.status == .fail)
        #expect(cases.last?.message == "the test bailed out: database unreachable")
    }

    @Test("TAP: output that is not TAP gives no cases; indented subtests and noise are ignored")
    func notTAP() {
        #expect(TAP.parse("starting\nall fine\nokay then\n").isEmpty)
        let cases = TAP.parse("1..1\n    ok 1 - subtest\n    1..1\nok 1 - parent\nsome log line\n")
        #expect(cases == [ReportedCase(name: "parent", status: .pass)])
    }

    @Test("pytest JUnit: failures and errors fail (errors marked), skips skip, times kept, system-out ignored")
    func pytestJUnit() throws {
        let xml = """
            <?xml version="1.0" encoding="utf-8"?>
            <testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="1.6">
            <testcase classname="test_site" name="test_homepage" time="0.412"><system-out>GET / 200</system-out></testcase>
            <testcase classname="test_site" name="test_login" time="0.9"><failure message="AssertionError: assert 500 == 302">def test_login():
            &gt;       assert response.status == 302
            E       AssertionError: assert 500 == 302</failure></testcase>
            <testcase classname="test_site" name="test_admin" time="0.001"><skipped type="pytest.skip" message="no admin account">test_site.py:30: no admin account</skipped></testcase>
            <testcase classname="test_site" name="test_db" time="0.2"><error message="failed on setup with &quot;ConnectionRefusedError&quot;">fixture error</error></testcase>
            <testcase classname="test_site" name="test_traceback_only" time="0.1"><failure>Traceback (most recent call last):
              File "x.py", line 3
            ValueError: the catalogue is empty</failure></testcase>
            </testsuite></testsuites>
            """
        let cases = try #require(JUnitReport.parse(Data(xml.utf8)))
        #expect(cases.map(\.status) == [.pass, .fail, .skip, .fail, .fail])
        #expect(cases[0].name == "test_site.test_homepage")
        #expect(cases[0].durationSeconds == 0.412)
        #expect(cases[1].message == "AssertionError: assert 500 == 302")
        #expect(cases[2].message == "no admin account")
        #expect(cases[3].message == "error: failed on setup with \"ConnectionRefusedError\"")
        #expect(
            cases[4].message == "ValueError: the catalogue is empty", "without a message, the traceback's last line")
    }

    @Test("JUnit that is not XML is unreadable (nil), so the exit code decides")
    func brokenJUnit() {
        #expect(JUnitReport.parse(Data("<testsuite><testcase".utf8)) == nil)
        #expect(JUnitReport.parse(Data("not xml at all".utf8)) == nil)
    }
}
