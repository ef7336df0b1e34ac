package dev.allot;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The check every test's responses go through ({@link Contract}) can fail: responses the document
 * does not describe are refused, with the operation, status and schema error named. No server: the
 * responses are made up here.
 */
class ContractTest {
  private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");
  private static final Map<String, String> PROBLEM = Map.of("Content-Type", "application/problem+json");
  private static final String NOT_FOUND = "{\"type\":\"urn:allot:problem:not_found\",\"title\":\"not found\","
      + "\"status\":404,\"detail\":\"no such resource\",\"code\":\"not_found\"}";

  private final Contract contract = Contract.get();

  @Test
  void aBodyMatchingItsSchemaPasses() {
    contract.check("GET", "/v1/locations", 200, JSON, "{\"locations\":[{\"id\":\"main\",\"name\":\"Main\"}]}");
    contract.check("GET", "/health/live", 200, JSON, "{\"status\":\"UP\"}");
  }

  @Test
  void aWrongBodyFailsNamingOperationStatusAndSchemaError() {
    AssertionError e = assertThrows(AssertionError.class, () ->
        contract.check("GET", "/v1/locations", 200, JSON, "{\"locations\":[{\"id\":\"main\"}]}"));
    assertTrue(e.getMessage().contains("GET /v1/locations -> 200 (operation listLocations)"), e.getMessage());
    assertTrue(e.getMessage().contains("name"), "the missing property is named: " + e.getMessage());

    AssertionError notArray = assertThrows(AssertionError.class, () ->
        contract.check("GET", "/v1/locations", 200, JSON, "{\"locations\":5}"));
    assertTrue(notArray.getMessage().contains("/locations"), notArray.getMessage());
  }

  @Test
  void aFieldTheDocumentDoesNotDescribeFails() {
    AssertionError e = assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/locations", 200, JSON,
        "{\"locations\":[{\"id\":\"main\",\"name\":\"Main\",\"region\":\"north\"}]}"));
    assertTrue(e.getMessage().contains("region"), e.getMessage());
    // Also beside an allOf (insufficient_stock is Problem and its lines).
    String insufficient = "{\"type\":\"urn:allot:problem:insufficient_stock\",\"title\":\"insufficient stock\","
        + "\"status\":409,\"detail\":\"d\",\"code\":\"insufficient_stock\","
        + "\"lines\":[{\"sku\":\"A\",\"requested\":2,\"available\":1}]}";
    contract.check("POST", "/v1/reservations", 409, PROBLEM, insufficient);
    AssertionError extra = assertThrows(AssertionError.class, () -> contract.check("POST", "/v1/reservations", 409,
        PROBLEM, insufficient.replace("\"code\"", "\"retry\":true,\"code\"")));
    assertTrue(extra.getMessage().contains("retry"), extra.getMessage());
  }

  @Test
  void openApi31SchemaKeywordsAreEnforced() {
    // `const` is JSON Schema 2020-12 (OpenAPI 3.1), not OpenAPI 3.0: a validator of 3.0 would ignore it.
    AssertionError e = assertThrows(AssertionError.class, () ->
        contract.check("GET", "/health/live", 200, JSON, "{\"status\":\"DOWN\"}"));
    assertTrue(e.getMessage().contains("operation live"), e.getMessage());
  }

  @Test
  void aStatusTheOperationDoesNotListFails() {
    AssertionError e = assertThrows(AssertionError.class, () ->
        contract.check("GET", "/v1/locations", 409, PROBLEM, NOT_FOUND.replace("404", "409")));
    assertTrue(e.getMessage().contains("lists no 409 response"), e.getMessage());
  }

  @Test
  void aContentTypeTheDocumentDoesNotListFails() {
    AssertionError e = assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/locations", 200,
        Map.of("Content-Type", "text/plain"), "{\"locations\":[]}"));
    assertTrue(e.getMessage().contains("Content-Type text/plain"), e.getMessage());
    // An error must be a problem document, not plain JSON.
    assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/locations", 401, JSON, NOT_FOUND
        .replace("404", "401").replace("not_found", "unauthorized")));
  }

  @Test
  void problemDocumentsAreChecked() {
    // Any request may get 404 (no such path), also one that matches no operation at all.
    contract.check("GET", "/v1/no-such-thing", 404, PROBLEM, NOT_FOUND);
    contract.check("DELETE", "/v1/locations", 404, PROBLEM, NOT_FOUND);
    // ... but as a problem document: code is required.
    AssertionError e = assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/no-such-thing", 404,
        PROBLEM, NOT_FOUND.replace(",\"code\":\"not_found\"", "")));
    assertTrue(e.getMessage().contains("code"), e.getMessage());
    // ... checked against the Problem schema itself: title is required, no undocumented field.
    e = assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/no-such-thing", 404, PROBLEM,
        NOT_FOUND.replaceFirst("\"title\":\"[^\"]*\",", "")));
    assertTrue(e.getMessage().contains("title"), e.getMessage());
    assertThrows(AssertionError.class, () -> contract.check("DELETE", "/v1/locations", 405, PROBLEM,
        NOT_FOUND.replace("404", "405").replace("not_found", "method_not_allowed").replace("}", ",\"extra\":1}")));
    // ... whose status is the HTTP status.
    assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/no-such-thing", 404, PROBLEM,
        NOT_FOUND.replace("\"status\":404", "\"status\":400")));
  }

  @Test
  void declaredHeadersAreChecked() {
    String unauthorized = NOT_FOUND.replace("404", "401").replace("not_found", "unauthorized")
        .replace("not found", "unauthorized");
    contract.check("GET", "/v1/locations", 401, Map.of("Content-Type", PROBLEM.get("Content-Type"),
        "WWW-Authenticate", "Bearer"), unauthorized);
    AssertionError e = assertThrows(AssertionError.class, () -> contract.check("GET", "/v1/locations", 401,
        Map.of("Content-Type", PROBLEM.get("Content-Type"), "WWW-Authenticate", "Basic"), unauthorized));
    assertTrue(e.getMessage().contains("www-authenticate"), e.getMessage());
  }

  @Test
  void mediaTypeParametersTheDocumentNamesMustBeThere() {
    assertTrue(Contract.mediaTypeMatches("application/json", "application/json; charset=utf-8"));
    assertTrue(Contract.mediaTypeMatches("text/plain; version=0.0.4; charset=utf-8",
        "text/plain;version=0.0.4;charset=utf-8"));
    assertFalse(Contract.mediaTypeMatches("text/plain; version=0.0.4; charset=utf-8", "text/plain"));
    assertFalse(Contract.mediaTypeMatches("application/json", "application/problem+json"));
  }
}
