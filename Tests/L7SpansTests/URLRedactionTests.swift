import L7Basics
@testable import L7Spans
import XCTest

/// No credential in a URL leaves the host: the values of parameters that
/// look like credentials become `REDACTED` in `url.query`, `url.full`,
/// `url.path` (matrix parameters) and the span's name.
final class URLRedactionTests: XCTestCase {
    private let redaction = URLRedaction()

    func testQueries() {
        let cases: [(String, String)] = [
            ("a=1&b=2", "a=1&b=2"),
            ("q=ok&page=2&sort=asc&author=x", "q=ok&page=2&sort=asc&author=REDACTED"),
            // The example, in full.
            ("password=hunter2&token=abc123&sig=zzz&X-Amz-Signature=qqq&api_key=k1&q=ok",
             "password=REDACTED&token=REDACTED&sig=REDACTED&X-Amz-Signature=REDACTED&api_key=REDACTED&q=ok"),
            // The semantic conventions' list.
            ("X-Amz-Signature=s&X-Amz-Credential=c&X-Amz-Security-Token=t&keep=1",
             "X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&keep=1"),
            ("AWSAccessKeyId=AK&Signature=zz&Expires=1", "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1"),
            ("X-Goog-Signature=abc&X-Goog-Date=1", "X-Goog-Signature=REDACTED&X-Goog-Date=1"),
            // Names of every family, any case.
            ("PASSWORD=a&Passwd=b&pwd=c&pass=d&client_secret=e", "PASSWORD=REDACTED&Passwd=REDACTED&pwd=REDACTED&pass=REDACTED&client_secret=REDACTED"),
            ("access_token=a&refresh_token=b&id_token=c&accessToken=d&accesstoken=e",
             "access_token=REDACTED&refresh_token=REDACTED&id_token=REDACTED&accessToken=REDACTED&accesstoken=REDACTED"),
            ("apikey=a&apiKey=b&api-key=c&key=d&x-api-key=e", "apikey=REDACTED&apiKey=REDACTED&api-key=REDACTED&key=REDACTED&x-api-key=REDACTED"),
            ("auth=a&authorization=b&oauth_verifier=c", "auth=REDACTED&authorization=REDACTED&oauth_verifier=REDACTED"),
            ("session=a&sessionid=b&PHPSESSID=c&sid=d&jwt=e&credential=f&signature=g",
             "session=REDACTED&sessionid=REDACTED&PHPSESSID=REDACTED&sid=REDACTED&jwt=REDACTED&credential=REDACTED&signature=REDACTED"),
            ("code=oauth-code&state=s", "code=REDACTED&state=s"),
            // Percent-encoded and form-encoded names.
            ("pass%77ord=x&%70wd=y&api%5Fkey=z&access+token=t", "pass%77ord=REDACTED&%70wd=REDACTED&api%5Fkey=REDACTED&access+token=REDACTED"),
            ("user%5Bpassword%5D=x&q=1", "user%5Bpassword%5D=REDACTED&q=1"),
            // Repeated parameters, empty values, values holding `=`.
            ("token=a&token=b&token=", "token=REDACTED&token=REDACTED&token=REDACTED"),
            ("token=a=b=c&x=1", "token=REDACTED&x=1"),
            // Semicolons separate parameters too.
            ("a=1;password=2;b=3", "a=1;password=REDACTED;b=3"),
            // Parameters without `=`: a name alone is kept; a bare secret is not.
            ("debug&token=x", "debug&token=REDACTED"),
            ("password", "password"),
            ("sig", "sig"),
            ("8f14e45fceea167a5a36dedd4bea2543", "REDACTED"),
            ("a=1&ghp_16C7e42F292c6912E7710c838347Ae178B4a", "a=1&REDACTED"),
            ("v2", "v2"),
            // A query that is only a secret.
            ("token=s3cr3t", "token=REDACTED"),
            // Odd shapes.
            ("", ""),
            ("&&", "&&"),
            ("=x", "=x"),
            ("a=1&&sig=", "a=1&&sig=REDACTED"),
            ("%zz=1&%=2", "%zz=1&%=2"),
            ("signature_version=2", "signature_version=REDACTED"),
            ("ünïcode=1&tökén=2", "ünïcode=1&tökén=2"),
        ]
        for (query, expected) in cases {
            XCTAssertEqual(redaction.query(Substring(query)), expected, query)
        }
    }

    func testAVeryLongQueryIsRedactedThroughout() {
        let keep = (0..<2000).map { "p\($0)=\($0)" }
        let query = (keep + ["token=s3cr3t"] + keep).joined(separator: "&")
        let redacted = redaction.query(Substring(query))!
        XCTAssertFalse(redacted.contains("s3cr3t"))
        XCTAssertEqual(redacted, (keep + ["token=REDACTED"] + keep).joined(separator: "&"))
    }

    func testMatrixParametersInThePath() {
        XCTAssertEqual(redaction.path("/app;jsessionid=ABC123/cart"), "/app;jsessionid=REDACTED/cart")
        XCTAssertEqual(redaction.path("/a;v=1;token=x/b;color=red"), "/a;v=1;token=REDACTED/b;color=red")
        XCTAssertEqual(redaction.path("/plain/path"), "/plain/path")
        XCTAssertEqual(redaction.path("/x;y"), "/x;y")
    }

    func testUserNamesAndTheOmitSwitch() {
        let custom = URLRedaction(extraNames: ["Tenant", "x-internal"])
        XCTAssertEqual(custom.query("tenant=acme&x-INTERNAL=1&q=2"), "tenant=REDACTED&x-INTERNAL=REDACTED&q=2")
        XCTAssertNil(URLRedaction(policy: .omit).query("q=1"))
        let fromEnvironment = URLRedaction(environment: [URLRedaction.extraNamesVariable: "tenant, shard"],
                                           extraNames: ["region"], omitQuery: false)
        XCTAssertEqual(fromEnvironment.query("tenant=a&shard=b&region=c&q=d"), "tenant=REDACTED&shard=REDACTED&region=REDACTED&q=d")
        XCTAssertEqual(URLRedaction(environment: [URLRedaction.omitQueryVariable: "TRUE"], extraNames: [], omitQuery: false).policy, .omit)
        XCTAssertEqual(URLRedaction(environment: [URLRedaction.omitQueryVariable: "no"], extraNames: [], omitQuery: false).policy,
                       .redactSensitive)
    }

    // MARK: - Spans

    func testServerAndClientSpansCarryNoSecret() {
        let target = "/x;jsessionid=J5/y?password=hunter2&token=abc123&q=ok"
        let server = Fixtures.span(Fixtures.exchange(target: target))
        XCTAssertEqual(server.string("url.query"), "password=REDACTED&token=REDACTED&q=ok")
        XCTAssertEqual(server.string("url.path"), "/x;jsessionid=REDACTED/y")
        XCTAssertEqual(server.name, "GET /x;jsessionid=REDACTED/y")
        let client = Fixtures.span(Fixtures.exchange(role: .client, target: target))
        XCTAssertEqual(client.string("url.full"), "http://example.com:8080/x;jsessionid=REDACTED/y?password=REDACTED&token=REDACTED&q=ok")
        for span in [server, client] {
            let text = "\(span)"
            for secret in ["hunter2", "abc123", "J5"] { XCTAssertFalse(text.contains(secret), "\(secret) in \(text)") }
        }
    }

    func testAbsoluteFormTargetsLoseUserInfoAndSecrets() {
        let client = Fixtures.span(Fixtures.exchange(role: .client, target: "http://alice:pw@example.com:8080/p?apikey=k"))
        XCTAssertEqual(client.string("url.full"), "http://example.com:8080/p?apikey=REDACTED")
    }

    func testOmittedQueriesLeaveNoTrace() {
        let options = SpanOptions(urlRedaction: URLRedaction(policy: .omit))
        let server = Fixtures.span(Fixtures.exchange(target: "/p?q=1"), options: options)
        XCTAssertNil(server.attribute("url.query"))
        let client = Fixtures.span(Fixtures.exchange(role: .client, target: "/p?q=1"), options: options)
        XCTAssertEqual(client.string("url.full"), "http://example.com:8080/p")
    }
}

final class PercentDecodingTests: XCTestCase {
    func testStrictAndLenientDecoding() {
        XCTAssertEqual(PercentDecoding.decodeUTF8("a%20b%C3%BC"), "a bü")
        XCTAssertNil(PercentDecoding.decodeUTF8("a%2"))
        XCTAssertNil(PercentDecoding.decodeUTF8("%zz"))
        XCTAssertNil(PercentDecoding.decodeUTF8("%FF"), "not UTF-8")
        func lenient(_ text: String) -> String {
            String(decoding: PercentDecoding.decode(text, badEscape: .keep, plusIsSpace: true)!, as: UTF8.self)
        }
        XCTAssertEqual(lenient("a+b%41"), "a bA")
        XCTAssertEqual(lenient("%zz%41"), "%zzA")
        XCTAssertEqual(lenient("%4"), "%4")
        XCTAssertEqual(lenient("%"), "%")
        XCTAssertEqual(lenient("%%41"), "%A")
        XCTAssertEqual(lenient("%4%41"), "%4A")
    }
}
