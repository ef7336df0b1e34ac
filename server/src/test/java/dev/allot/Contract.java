package dev.allot;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.json.schema.OutputUnit;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.contract.Operation;
import io.vertx.openapi.validation.ResponseValidator;
import io.vertx.openapi.validation.SchemaValidationException;
import io.vertx.openapi.validation.ValidatableResponse;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The server's own OpenAPI document (src/main/resources/openapi.yaml, OpenAPI 3.1) as a check on
 * every HTTP response the tests receive, so the document cannot drift from the code. {@link Api}
 * calls {@link #check} on each response; a mismatch is an {@link AssertionError} naming the call,
 * the operation, the status and what is wrong.
 * <p>
 * Per response: the operation is found by method and path; the status must be one the operation
 * lists (or, as the document's "Errors" section says of any request, 404, 405 or 500); the
 * Content-Type must be one the document lists for that status, and no body may come where it lists
 * none; then vertx-openapi's {@link ResponseValidator} checks the declared headers and the JSON body
 * (problem documents included) against the schema, with vertx-json-schema (JSON Schema 2020-12,
 * as OpenAPI 3.1 uses); a body field the schema does not describe fails too. A problem document must also carry its HTTP status in {@code status} and
 * {@code urn:allot:problem:<code>} in {@code type}, as the document says.
 * <p>
 * vertx-openapi 5.0 reads only some media types and looks response headers up by their
 * lower-cased name, so it is handed a copy of the document adapted for that (see {@link #forLibrary});
 * the media types and their matching are checked here, on the document as written.
 * <p>
 * Not checked, on purpose: the WebSocket itself of {@code GET /v1/stream} ({@link WsClient}: a 101
 * upgrade, then frames, which OpenAPI cannot describe; StreamTest checks the messages), and calls to
 * things that are not this server (LivePageTest's browser DevTools endpoint). The text bodies of
 * {@code /metrics}, {@code /openapi.yaml} and the page are typed only {@code type: string} in the
 * document: for them status and Content-Type are checked, not the text.
 */
public final class Contract {
  private static final String RESOURCE = "/openapi.yaml";
  /** Errors any request may get, besides those an operation lists (the document's "Errors" section). */
  private static final Set<Integer> ANY_REQUEST = Set.of(404, 405, 415, 500);
  /** An operation added to the library's copy for requests whose path and method match no operation. */
  private static final String UNMATCHED = "x-no-such-operation";
  private static final String PROBLEM = "application/problem+json";
  /** What problem+json is called in the library's copy: vertx-openapi 5.0 reads vendor JSON, not +json suffixes. */
  private static final String PROBLEM_FOR_LIBRARY = "application/vnd.allot.problem+json";

  private static volatile Contract instance;
  private static RuntimeException loadFailure;

  private final JsonObject doc;
  private final OpenAPIContract contract;
  private final ResponseValidator validator;

  private Contract(JsonObject doc, Vertx vertx, OpenAPIContract contract) {
    this.doc = doc;
    this.contract = contract;
    this.validator = ResponseValidator.create(vertx, contract);
  }

  /** The document as the tests' classpath has it (target/classes/openapi.yaml), read once per JVM. */
  public static Contract get() {
    Contract c = instance;
    if (c == null) {
      synchronized (Contract.class) {
        if (loadFailure != null) {
          throw loadFailure; // tried once per JVM: every later call fails the same way, at once
        }
        c = instance;
        if (c == null) {
          try {
            c = instance = load(read(RESOURCE));
          } catch (RuntimeException e) {
            loadFailure = e;
            throw e;
          }
        }
      }
    }
    return c;
  }

  /** A contract from the given document text (YAML or JSON); for tests of this class. */
  static Contract load(String yamlText) {
    JsonObject doc = parse(yamlText);
    // One small Vert.x for the whole JVM: the library wants one to resolve the document and to run
    // its checks on. Its threads are daemons, so it never keeps a test JVM alive.
    Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(2)
        .setInternalBlockingPoolSize(1).setUseDaemonThread(true));
    try {
      OpenAPIContract contract = OpenAPIContract.from(vertx, forLibrary(doc)).toCompletionStage().toCompletableFuture()
          .get(60, TimeUnit.SECONDS);
      return new Contract(doc, vertx, contract);
    } catch (Exception e) {
      vertx.close();
      throw new IllegalStateException("openapi.yaml is not a contract vertx-openapi can read: " + cause(e), e);
    }
  }

  /**
   * Checks one response to {@code method pathAndQuery}; throws AssertionError on any mismatch.
   *
   * @param headers the response headers (first value of each; names in any case)
   * @param body the response body as received ("" for none)
   */
  public void check(String method, String pathAndQuery, int status, Map<String, String> headers, String body) {
    String path = pathAndQuery.split("\\?", 2)[0];
    Operation op = contract.findOperation(path, HttpMethod.valueOf(method));
    String opId = op == null ? UNMATCHED : op.getOperationId();
    String call = method + " " + pathAndQuery + " -> " + status + " (operation " + opId + ")";

    JsonObject response = op == null ? null : response(op, status);
    if (response == null && (op == null || ANY_REQUEST.contains(status))) {
      response = anyRequestProblem(op == null);
    }
    if (response == null) {
      fail(call, "openapi.yaml lists no " + status + " response for this operation", body);
    }
    Map<String, String> lower = new HashMap<>();
    headers.forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), v));
    String contentType = lower.get("content-type");

    JsonObject content = response.getJsonObject("content", new JsonObject());
    String mediaType = null;
    if (content.isEmpty()) {
      if (!body.isEmpty()) {
        fail(call, "openapi.yaml lists no body for this status, but one came (content-type " + contentType + ")", body);
      }
    } else {
      if (contentType == null) {
        fail(call, "no Content-Type; openapi.yaml lists " + content.fieldNames(), body);
      }
      for (String listed : content.fieldNames()) {
        if (mediaTypeMatches(listed, contentType)) {
          mediaType = listed;
        }
      }
      if (mediaType == null) {
        fail(call, "Content-Type " + contentType + " is not one openapi.yaml lists for this status: "
            + content.fieldNames(), body);
      }
    }

    String libraryType = mediaType == null ? null : forLibrary(mediaType);
    boolean json = libraryType != null && isJson(libraryType);
    ValidatableResponse params = ValidatableResponse.create(status, lower,
        json ? Buffer.buffer(body) : null, json ? libraryType : null);
    try {
      validator.validate(params, opId).toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      fail(call, cause(e), body);
    }

    if (PROBLEM.equals(mediaType)) {
      JsonObject problem = new JsonObject(body);
      if (!Integer.valueOf(status).equals(problem.getValue("status"))) {
        fail(call, "problem document's status " + problem.getValue("status") + " is not the HTTP status", body);
      }
      if (!("urn:allot:problem:" + problem.getString("code")).equals(problem.getString("type"))) {
        fail(call, "problem document's type is not urn:allot:problem:<code>", body);
      }
    }
  }

  // ---- the document as written ----------------------------------------------------------------

  /** The response object the document lists for this operation and status ($ref resolved), or null. */
  private JsonObject response(Operation op, int status) {
    JsonObject operation = doc.getJsonObject("paths").getJsonObject(op.getOpenAPIPath())
        .getJsonObject(op.getHttpMethod().name().toLowerCase(Locale.ROOT));
    JsonObject responses = operation.getJsonObject("responses");
    JsonObject r = responses.getJsonObject(Integer.toString(status));
    if (r == null) {
      r = responses.getJsonObject("default");
    }
    return r == null ? null : resolve(r);
  }

  private JsonObject resolve(JsonObject maybeRef) {
    String ref = maybeRef.getString("$ref");
    if (ref == null) {
      return maybeRef;
    }
    Object at = doc;
    for (String part : ref.substring(2).split("/")) {
      at = ((JsonObject) at).getValue(part.replace("~1", "/").replace("~0", "~"));
    }
    return resolve((JsonObject) at);
  }

  /** The problem document any request may get (404, 405, 500; and 401, 413 where no path matched). */
  private static JsonObject anyRequestProblem(boolean unmatched) {
    return new JsonObject().put("description", unmatched ? "no such operation" : "any request")
        .put("content", new JsonObject().put(PROBLEM, new JsonObject()
            .put("schema", new JsonObject().put("$ref", "#/components/schemas/Problem"))));
  }

  /**
   * A Content-Type matches a listed media type when type/subtype are the same and every parameter
   * the document names is there with the same value (a {@code charset} the document does not name
   * is allowed).
   */
  static boolean mediaTypeMatches(String listed, String contentType) {
    if (contentType == null) {
      return false;
    }
    String[] want = listed.toLowerCase(Locale.ROOT).split(";");
    String[] got = contentType.toLowerCase(Locale.ROOT).split(";");
    if (!want[0].trim().equals(got[0].trim())) {
      return false;
    }
    List<String> gotParams = new ArrayList<>();
    for (int i = 1; i < got.length; i++) {
      gotParams.add(got[i].replace(" ", ""));
    }
    for (int i = 1; i < want.length; i++) {
      if (!gotParams.contains(want[i].replace(" ", ""))) {
        return false;
      }
    }
    return true;
  }

  // ---- the copy the library reads -------------------------------------------------------------

  /** The media type as the library's copy names it; null for one the library is not given. */
  private static String forLibrary(String mediaType) {
    if (mediaType.equals(PROBLEM)) {
      return PROBLEM_FOR_LIBRARY;
    }
    return mediaType.equals("application/json") ? mediaType : null;
  }

  private static boolean isJson(String libraryType) {
    return libraryType.equals("application/json") || libraryType.equals(PROBLEM_FOR_LIBRARY);
  }

  /**
   * The document as vertx-openapi 5.0 can read it, its meaning unchanged for what the library
   * checks: problem+json under a vendor name it reads as JSON; text media types (metrics, the
   * document itself, the page, all {@code type: string}) left out of the copy, as the library
   * refuses the contract over them (they are checked in {@link #check}); response header names
   * lower-cased, as the library looks them up so; every operation also answering 404, 405 and 500
   * with a problem document, and one more operation for requests that match none, as the document's
   * "Errors" section says of any request; no {@code servers} (below); and every object schema
   * closed ({@link #closeObjects}).
   */
  static JsonObject forLibrary(JsonObject original) {
    JsonObject copy = original.copy();
    // The document's server is the relative "/" (wherever it is served); the library reads only
    // absolute server URLs. Without servers the base path is "/", the same thing.
    copy.remove("servers");
    closeObjects(copy.getJsonObject("paths"), false);
    closeObjects(copy.getJsonObject("components"), false);
    JsonObject anyRequest = new JsonObject().put("description", "any request (see Errors)")
        .put("content", new JsonObject().put(PROBLEM_FOR_LIBRARY, new JsonObject()
            .put("schema", new JsonObject().put("$ref", "#/components/schemas/Problem"))));
    JsonObject components = copy.getJsonObject("components");
    JsonObject responses = components.getJsonObject("responses", new JsonObject());
    components.put("responses", responses);
    responses.forEach(e -> adaptResponse((JsonObject) e.getValue()));
    // Added after the adaptation: it already names the library's media type (adapting it again
    // would drop that type, and with it every check of a generic error's body).
    responses.put("XAnyRequest", anyRequest);
    JsonObject paths = copy.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      JsonObject item = paths.getJsonObject(path);
      for (String method : item.fieldNames()) {
        if (!(item.getValue(method) instanceof JsonObject operation) || !operation.containsKey("responses")) {
          continue;
        }
        JsonObject rs = operation.getJsonObject("responses");
        rs.forEach(e -> adaptResponse((JsonObject) e.getValue()));
        for (int status : ANY_REQUEST) {
          if (!rs.containsKey(Integer.toString(status))) {
            rs.put(Integer.toString(status), new JsonObject().put("$ref", "#/components/responses/XAnyRequest"));
          }
        }
      }
    }
    JsonObject unmatched = new JsonObject();
    for (int status : new int[] {401, 404, 405, 413, 500}) {
      unmatched.put(Integer.toString(status), new JsonObject().put("$ref", "#/components/responses/XAnyRequest"));
    }
    paths.put("/" + UNMATCHED, new JsonObject().put("get", new JsonObject().put("operationId", UNMATCHED)
        .put("security", new JsonArray()).put("responses", unmatched)));
    return copy;
  }

  /**
   * Closes every object schema: a property the schema does not describe fails
   * ({@code unevaluatedProperties: false}, which sees through allOf/oneOf/$ref in JSON Schema
   * 2020-12). The document says what this build sends; a field the code sends and the document does
   * not describe is drift too. Left open: schemas that already say what extra properties may be
   * (maps), and the branches of an allOf (the allOf as a whole is closed instead).
   */
  static void closeObjects(Object node, boolean allOfBranch) {
    if (node instanceof JsonObject o) {
      boolean objectSchema = o.containsKey("properties") || o.containsKey("allOf");
      if (objectSchema && !allOfBranch && !o.containsKey("additionalProperties")
          && !o.containsKey("unevaluatedProperties")) {
        o.put("unevaluatedProperties", false);
      }
      for (String key : new ArrayList<>(o.fieldNames())) {
        Object value = o.getValue(key);
        if (key.equals("example") || key.equals("examples")) {
          continue; // data, not schemas
        }
        if (key.equals("allOf") && value instanceof JsonArray branches) {
          branches.forEach(b -> closeObjects(b, true));
        } else {
          closeObjects(value, false);
        }
      }
    } else if (node instanceof JsonArray a) {
      a.forEach(x -> closeObjects(x, false));
    }
  }

  private static void adaptResponse(JsonObject response) {
    JsonObject content = response.getJsonObject("content");
    if (content != null) {
      JsonObject adapted = new JsonObject();
      content.forEach(e -> {
        String type = forLibrary(e.getKey());
        if (type != null) {
          adapted.put(type, e.getValue());
        }
      });
      response.put("content", adapted);
    }
    JsonObject headers = response.getJsonObject("headers");
    if (headers != null) {
      JsonObject lower = new JsonObject();
      headers.forEach(e -> lower.put(e.getKey().toLowerCase(Locale.ROOT), e.getValue()));
      response.put("headers", lower);
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static void fail(String call, String what, String body) {
    String shown = body.length() > 600 ? body.substring(0, 600) + "..." : body;
    throw new AssertionError("response does not match openapi.yaml: " + call + ": " + what
        + (shown.isEmpty() ? "" : "\n  body: " + shown));
  }

  /** The library's reason, with the schema errors (instance location, keyword, error) when it has them. */
  private static String cause(Throwable e) {
    while ((e instanceof ExecutionException || e instanceof java.util.concurrent.CompletionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    StringBuilder sb = new StringBuilder(e.getClass().getSimpleName()).append(": ").append(e.getMessage());
    if (e instanceof SchemaValidationException sve && sve.getOutputUnit() != null) {
      appendErrors(sb, sve.getOutputUnit(), 0);
    }
    return sb.toString();
  }

  private static void appendErrors(StringBuilder sb, OutputUnit unit, int depth) {
    if (unit.getErrors() == null || depth > 3) {
      return;
    }
    for (OutputUnit err : unit.getErrors()) {
      sb.append("\n    at ").append(err.getInstanceLocation()).append(" (").append(err.getKeywordLocation())
          .append("): ").append(err.getError());
      appendErrors(sb, err, depth + 1);
    }
  }

  private static JsonObject parse(String yamlText) {
    Object tree = new Yaml(new SafeConstructor(new LoaderOptions())).load(yamlText);
    @SuppressWarnings("unchecked")
    Map<String, Object> map = (Map<String, Object>) tree;
    return new JsonObject(new LinkedHashMap<>(map)).copy();
  }

  private static String read(String resource) {
    try (InputStream in = Contract.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException(resource + " is not on the test classpath");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
