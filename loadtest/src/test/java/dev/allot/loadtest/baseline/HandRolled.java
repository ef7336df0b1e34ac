package dev.allot.loadtest.baseline;

import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What Allot is measured against (loadtest/capacity.sh): the servers a user would build instead.
 * <ul>
 *   <li>{@code hello}: bare Vert.x HTTP answering every request with a fixed JSON: the box's HTTP ceiling;</li>
 *   <li>{@code naive}: bare Vert.x running {@code baseline/naive_reserve.lua} once per reservation (and
 *   {@code naive_commit.lua} once per commit) through the Vert.x Redis client: what a user would
 *   hand-roll in an afternoon. One pipelined connection per event loop (a cluster connection on a
 *   cluster). No auth, no validation beyond what the JSON parser does, no ledger, no events.</li>
 * </ul>
 * {@code java -cp allot-server.jar:loadtest/target/test-classes dev.allot.loadtest.baseline.HandRolled
 * MODE PORT [REDIS_URL[,REDIS_URL...] SCRIPT_DIR]}; more than one Redis URL means a cluster.
 */
public final class HandRolled extends VerticleBase {
  private static String mode;
  private static int port;
  private static String[] redisUrls;
  private static String reserveScript;
  private static String commitScript;

  private static final Buffer HELLO = Buffer.buffer("{\"id\":\"x\",\"state\":\"held\"}");

  private Redis redis;
  private RedisConnection conn;
  private String reserveSha;
  private String commitSha;

  public static void main(String[] args) throws Exception {
    if (args.length < 2 || !(args[0].equals("hello") || args[0].equals("naive")) || (args[0].equals("naive") && args.length < 4)) {
      System.err.println("usage: HandRolled hello PORT | HandRolled naive PORT REDIS_URL[,REDIS_URL...] SCRIPT_DIR");
      System.exit(2);
    }
    mode = args[0];
    port = Integer.parseInt(args[1]);
    if (mode.equals("naive")) {
      redisUrls = args[2].split(",");
      reserveScript = Files.readString(Path.of(args[3], "naive_reserve.lua"));
      commitScript = Files.readString(Path.of(args[3], "naive_commit.lua"));
    }
    Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    int instances = Runtime.getRuntime().availableProcessors();
    vertx.deployVerticle(HandRolled::new, new DeploymentOptions().setInstances(instances))
        .onSuccess(id -> System.out.println("ready " + mode + " on " + port + " x" + instances))
        .onFailure(e -> {
          e.printStackTrace();
          System.exit(1);
        });
  }

  @Override
  public Future<?> start() {
    Future<?> ready = Future.succeededFuture();
    if (mode.equals("naive")) {
      RedisOptions options = new RedisOptions().setMaxPoolSize(8).setMaxWaitingHandlers(100_000).setMaxPoolWaiting(100_000);
      if (redisUrls.length > 1) {
        options.setType(RedisClientType.CLUSTER);
        for (String u : redisUrls) {
          options.addConnectionString(u);
        }
      } else {
        options.setConnectionString(redisUrls[0]);
      }
      redis = Redis.createClient(vertx, options);
      ready = redis.connect().compose(c -> {
        conn = c;
        return load(reserveScript).compose(sha -> {
          reserveSha = sha;
          return load(commitScript);
        }).map(sha -> {
          commitSha = sha;
          return null;
        });
      });
    }
    return ready.compose(x -> vertx.createHttpServer(new HttpServerOptions().setPort(port).setHost("127.0.0.1")
        .setTcpNoDelay(true)).requestHandler(this::handle).listen());
  }

  /** SCRIPT LOAD (on a cluster, on the node the connection picks; EVAL fills the others on NOSCRIPT). */
  private Future<String> load(String script) {
    return conn.send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(script)).map(Response::toString);
  }

  private void handle(HttpServerRequest req) {
    req.body().onSuccess(body -> {
      if (redis == null) {
        // A commit answers 200, a reserve 201, as the real servers do: a checkout is two requests here too.
        req.response().setStatusCode(req.path().endsWith("/commit") ? 200 : 201)
            .putHeader("content-type", "application/json").end(HELLO);
        return;
      }
      String path = req.path();
      if (path.endsWith("/commit")) {
        String id = path.substring("/v1/reservations/".length(), path.length() - "/commit".length());
        int dash = id.indexOf('~');
        String sku = dash > 0 ? id.substring(0, dash) : "BENCH-HOT";
        commit(req, id, sku);
        return;
      }
      JsonObject json = body.toJsonObject();
      String id = json.getString("id");
      JsonObject line = json.getJsonArray("lines").getJsonObject(0);
      reserve(req, id, line.getString("sku"), line.getLong("qty"));
    }).onFailure(e -> req.response().setStatusCode(400).end());
  }

  private void reserve(HttpServerRequest req, String id, String sku, long qty) {
    String tag = "{" + sku + "}";
    eval(reserveSha, reserveScript, Request.cmd(Command.EVALSHA).arg(reserveSha).arg(3).arg(tag + ":stock")
        .arg(tag + ":hold:" + id).arg(tag + ":expiry").arg(qty).arg(id).arg(3_600_000), tag + ":stock",
        tag + ":hold:" + id, tag + ":expiry", Long.toString(qty), id, "3600000")
        .onSuccess(r -> {
          boolean ok = "OK".equals(r.get(0).toString());
          // The reservation's id carries its SKU, so a commit finds the hold without a lookup.
          req.response().setStatusCode(ok ? 201 : 409).putHeader("content-type", "application/json")
              .end("{\"id\":\"" + sku + "~" + id + "\",\"state\":\"" + (ok ? "held" : "refused") + "\",\"available\":"
                  + r.get(1) + "}");
        })
        .onFailure(e -> req.response().setStatusCode(503).end());
  }

  private void commit(HttpServerRequest req, String fullId, String sku) {
    int dash = fullId.indexOf('~');
    String id = dash > 0 ? fullId.substring(dash + 1) : fullId;
    String tag = "{" + sku + "}";
    eval(commitSha, commitScript, Request.cmd(Command.EVALSHA).arg(commitSha).arg(3).arg(tag + ":stock")
        .arg(tag + ":hold:" + id).arg(tag + ":expiry").arg(id), tag + ":stock", tag + ":hold:" + id,
        tag + ":expiry", id)
        .onSuccess(r -> {
          String st = r.get(0).toString();
          boolean ok = st.equals("OK") || st.equals("DUPLICATE");
          req.response().setStatusCode(ok ? 200 : 410).putHeader("content-type", "application/json")
              .end("{\"id\":\"" + fullId + "\",\"state\":\"" + (ok ? "committed" : "expired") + "\"}");
        })
        .onFailure(e -> req.response().setStatusCode(503).end());
  }

  /** EVALSHA; on a node that has not seen the script (a cluster's other masters), EVAL once. */
  private Future<Response> eval(String sha, String script, Request evalsha, String... keysThenArgs) {
    // One connection per event loop, pipelined; on a cluster it routes each command by its key's slot
    // (borrowing a pooled cluster connection per call would wait on itself under load).
    Future<Response> sent = conn.send(evalsha);
    return sent.recover(err -> {
      if (err.getMessage() == null || !err.getMessage().startsWith("NOSCRIPT")) {
        return Future.failedFuture(err);
      }
      Request eval = Request.cmd(Command.EVAL).arg(script).arg(3);
      for (String a : keysThenArgs) {
        eval.arg(a);
      }
      return conn.send(eval);
    });
  }
}
