import L7Spans
import XCTest

final class ServiceGlobTests: XCTestCase {
    func testGlobCases() {
        let cases: [(String, String, Bool)] = [
            ("nginx", "nginx", true),
            ("nginx", "ngin", false),
            ("nginx", "nginx*", true),
            ("nginx-worker", "nginx*", true),
            ("my-nginx", "*nginx", true),
            ("checkout-api", "*-api", true),
            ("checkout-apis", "*-api", false),
            ("", "*", true),
            ("", "?", false),
            ("a", "?", true),
            ("ab", "?", false),
            ("café", "caf?", true),
            ("api1", "api[0-9]", true),
            ("apix", "api[0-9]", false),
            ("apix", "api[!0-9]", true),
            ("api1", "api[^0-9]", false),
            ("b", "[abc]", true),
            ("]", "[]]", true),
            ("-", "[a-]", true),
            ("[x", "[x", true),
            ("a*b", "a\\*b", true),
            ("axb", "a\\*b", false),
            ("Nginx", "nginx", false),
            ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*c", false),
            ("service.prod.eu", "service.*.eu", true),
            ("service.prod.us", "service.*.eu", false),
            ("abc", "a**c", true),
        ]
        for (name, glob, expected) in cases {
            XCTAssertEqual(serviceMatches(name, glob: glob), expected, "\(name) ~ \(glob)")
        }
    }
}
