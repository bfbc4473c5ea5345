@testable import L7Spans
import XCTest

final class RouteTemplaterTests: XCTestCase {
    func testHeuristicTemplates() {
        let t = RouteTemplater()
        let cases: [(String, String)] = [
            ("/", "/"),
            ("", "/"),
            ("/health", "/health"),
            ("/users/", "/users/"),
            ("/users/42", "/users/*"),
            ("/users/42/", "/users/*/"),
            ("/users/42/orders/7", "/users/*/orders/*"),
            ("/items/550e8400-e29b-41d4-a716-446655440000", "/items/*"),
            ("/items/550E8400-E29B-41D4-A716-446655440000/x", "/items/*/x"),
            ("/commits/9fceb02d0ae598e95dc970b74767f19372d61af8", "/commits/*"),
            ("/objects/507f1f77bcf86cd799439011", "/objects/*"),
            ("/blobs/deadbeef12", "/blobs/*"),
            ("/cafe", "/cafe"),
            ("/decade", "/decade"),
            ("/orders/ORD-2024-000123", "/orders/*"),
            ("/u/user12345", "/u/*"),
            ("/t/a1b2c3d4", "/t/*"),
            ("/s/Zm9vYmFyYmF6cXV4MTIz", "/s/*"),
            ("/days/2024-01-15", "/days/*"),
            ("/people/bob@example.com", "/people/*"),
            ("/v1/api", "/v1/api"),
            ("/oauth2/callback", "/oauth2/callback"),
            ("/tools/base64encode", "/tools/base64encode"),
            ("/api/getUserProfileSettings", "/api/getUserProfileSettings"),
            ("/static/app.css", "/static/app.css"),
            ("/x/" + String(repeating: "a", count: 65), "/x/*"),
            ("//double//42", "//double//*"),
            ("/straße/42/ü", "/straße/*/ü"),
            ("42", "*"),
            ("/a/1/b/2/c", "/a/*/b/*/c"),
        ]
        for (path, route) in cases {
            XCTAssertEqual(t.route(forPath: path), route, path)
        }
    }

    func testUserPatternsWin() {
        let t = RouteTemplater(patterns: ["/users/{id}/orders", "/files/**", "/teams/*/members/{name}", "bad-pattern"])
        XCTAssertEqual(t.route(forPath: "/users/alice/orders"), "/users/{id}/orders")
        XCTAssertEqual(t.route(forPath: "/users/42/orders/"), "/users/{id}/orders", "a trailing slash still matches")
        XCTAssertEqual(t.route(forPath: "/users/42/orders/9"), "/users/*/orders/*", "longer paths fall back")
        XCTAssertEqual(t.route(forPath: "/files/a/b/c.txt"), "/files/**")
        XCTAssertEqual(t.route(forPath: "/files"), "/files/**")
        XCTAssertEqual(t.route(forPath: "/teams/core/members/ann"), "/teams/*/members/{name}")
        XCTAssertEqual(t.route(forPath: "/teams/core/members"), "/teams/core/members")
    }

    func testFirstMatchingPatternWins() {
        let t = RouteTemplater(patterns: ["/a/{x}", "/a/b"])
        XCTAssertEqual(t.route(forPath: "/a/b"), "/a/{x}")
    }

    func testQueryIsNotInTheRoute() {
        let span = Fixtures.span(Fixtures.exchange(target: "/search/99?q=1&page=2"))
        XCTAssertEqual(span.name, "GET /search/*")
        XCTAssertEqual(span.string("http.route"), "/search/*")
        let withPattern = Fixtures.span(Fixtures.exchange(target: "/users/abc/orders?x=1"),
                                        options: SpanOptions(routePatterns: ["/users/{id}/orders"]))
        XCTAssertEqual(withPattern.name, "GET /users/{id}/orders")
    }

    func testQueryRedaction() {
        let span = Fixtures.span(Fixtures.exchange(target: "/dl?Signature=secret&name=x"))
        XCTAssertEqual(span.string("url.query"), "Signature=REDACTED&name=x")
        XCTAssertNil(Fixtures.span(Fixtures.exchange(target: "/dl")).attribute("url.query"), "only when present")
        XCTAssertEqual(Fixtures.span(Fixtures.exchange(target: "/dl?")).string("url.query"), "")
    }
}
