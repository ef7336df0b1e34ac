package dev.allot;

import dev.allot.store.RedisProcess;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.allot.Api.expect;
import static dev.allot.ExpiryTest.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TLS to Redis (#15): a real redis-server speaking only TLS on its TLS port, with a certificate
 * from a CA the test makes, client certificates required, and an ACL user with a password.
 */
class TlsTest {
  static TestCerts certs;
  static RedisProcess redis;
  static int tlsPort;
  static Path[] client;

  @BeforeAll
  static void start() throws Exception {
    certs = TestCerts.create();
    Path[] server = certs.issue("redis", "dns:localhost,ip:127.0.0.1");
    client = certs.issue("allot", null);
    tlsPort = RedisProcess.freePort();
    try {
      redis = RedisProcess.start(RedisProcess.freePort(), List.of("--tls-port", Integer.toString(tlsPort),
          "--tls-cert-file", server[0].toString(), "--tls-key-file", server[1].toString(),
          "--tls-ca-cert-file", certs.ca.toString(), "--tls-auth-clients", "yes",
          "--user", "allot", "on", ">s3cret", "~*", "&*", "+@all",
          // 127.0.0.2 is this machine too, under a name the certificate does not give (hostnameVerified).
          "--bind", "127.0.0.1", "127.0.0.2"));
    } catch (java.io.IOException e) {
      Assumptions.assumeTrue(false, "this redis-server cannot speak TLS (Debian's redis-server 7 can; .ci/run "
          + "installs it): " + e.getMessage());
    }
  }

  @AfterAll
  static void stop() {
    if (redis != null) {
      redis.close();
    }
  }

  private static Map<String, String> tls(String url, boolean clientCert) {
    Map<String, String> v = new HashMap<>(Map.of("ALLOT_API_KEYS", TestServer.keys("web"),
        "ALLOT_REDIS_TLS_CA", certs.ca.toString()));
    if (clientCert) {
      v.put("ALLOT_REDIS_TLS_CERT", client[0].toString());
      v.put("ALLOT_REDIS_TLS_KEY", client[1].toString());
    }
    v.put("ALLOT_REDIS_URL", url);
    return v;
  }

  @Test
  @DisplayName("rediss:// with the CA, a client certificate and an ACL user: ready, reserves, and the stream gets changes")
  void tlsWorks() throws Exception {
    Map<String, String> v = tls("rediss://allot:s3cret@127.0.0.1:" + tlsPort, true);
    AllotServer server = TestServer.start(null, v);
    try {
      Api admin = new Api(server.port(), TestServer.ADMIN);
      await("ready over TLS", 15_000, () -> admin.get("/health/ready").status() == 200,
          () -> admin.get("/health/ready").toString());
      admin.location("main");
      admin.channel("web", "[\"main\"]", 0);
      String sku = Api.sku("tls");
      admin.receive(sku, "main", 3);
      try (WsClient ws = WsClient.connect(server.port(), TestServer.READER)) {
        ws.subscribe("web", sku);
        ws.awaitAvailable("web", sku, 3, 5000);
        expect(admin.as("t-web").post("/v1/reservations", ExpiryTest.cart(Api.id("t"), sku, 2, 60)), 201);
        ws.awaitAvailable("web", sku, 1, 5000); // the subscriber's own connection is TLS too
      }
      assertEquals(2, admin.sku(sku, "main").path("reserved").asLong());
    } finally {
      server.stop();
    }
  }

  @Test
  @DisplayName("a certificate that does not name the host is refused (not ready, and says why); the check can be"
      + " switched off only out loud")
  void hostnameVerified() throws Exception {
    // The server's certificate names localhost and 127.0.0.1; connecting to it as 127.0.0.2 (also this
    // machine) must fail the check.
    Map<String, String> v = tls("rediss://allot:s3cret@127.0.0.2:" + tlsPort, true);
    AllotServer refused;
    try (LogCapture logs = new LogCapture()) {
      refused = TestServer.start(null, v);
      try {
        Api anon = new Api(refused.port(), null);
        assertEquals(503, anon.get("/health/ready").status());
        await("the reason logged", 10_000, () -> logs.records().stream().anyMatch(r -> r.getParameters() != null
            && java.util.Arrays.toString(r.getParameters()).contains("127.0.0.2")
            && java.util.Arrays.toString(r.getParameters()).toLowerCase().contains("ssl")));
        assertEquals(503, anon.get("/health/ready").status(), "still not ready: nothing got through");
      } finally {
        refused.stop();
      }
    }
    v.put("ALLOT_REDIS_TLS_VERIFY_HOSTNAME", "false");
    AllotServer lax = TestServer.start(null, v);
    try {
      Api anon = new Api(lax.port(), null);
      await("ready without the hostname check", 15_000, () -> anon.get("/health/ready").status() == 200);
    } finally {
      lax.stop();
    }
  }

  @Test
  @DisplayName("without the client certificate Redis asks for, or with plain redis:// and TLS settings, Allot is not"
      + " ready or does not start")
  void misconfigurations() throws Exception {
    AllotServer noCert = TestServer.start(null, tls("rediss://allot:s3cret@127.0.0.1:" + tlsPort, false));
    try {
      Api anon = new Api(noCert.port(), null);
      assertEquals(503, anon.get("/health/ready").status());
    } finally {
      noCert.stop();
    }
    IllegalArgumentException plain = assertThrows(IllegalArgumentException.class,
        () -> TestServer.start(null, tls("redis://127.0.0.1:" + tlsPort, true)));
    assertTrue(plain.getMessage().contains("rediss://"), plain.getMessage());
    Map<String, String> typo = tls("rediss://127.0.0.1:" + tlsPort, true);
    typo.put("ALLOT_REDIS_TLS_CA", certs.dir.resolve("no-such.pem").toString());
    IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> TestServer.start(null, typo));
    assertTrue(missing.getMessage().contains("ALLOT_REDIS_TLS_CA"), missing.getMessage());
  }
}
