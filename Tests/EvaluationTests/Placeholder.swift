import XCTest
final class PlaceholderEvaluationTests: XCTestCase { func testNothing() {} }
