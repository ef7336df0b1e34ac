package dev.allot.store;

import dev.allot.common.StoreUnavailableException;
import dev.allot.config.Settings;
import dev.allot.common.Throttled;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.PemKeyCertOptions;
import io.vertx.core.net.PemTrustOptions;
import io.vertx.redis.client.Command;
import io.vertx.redis.client.Redis;
import io.vertx.redis.client.RedisClientType;
import io.vertx.redis.client.RedisConnection;
import io.vertx.redis.client.RedisOptions;
import io.vertx.redis.client.Request;
import io.vertx.redis.client.Response;
import io.vertx.redis.client.impl.types.ErrorType;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A pooled, pipelining Redis client plus the Lua scripts (as {@link ScriptSource} assembles them).
 * Scripts run by EVALSHA; on NOSCRIPT the call is retried once as EVAL, which loads the script again. Every failure to reach Redis
 * surfaces as {@link StoreUnavailableException}.
 */
public final class RedisStore {
  private static final System.Logger LOG = System.getLogger(RedisStore.class.getName());
  static {
    RedisFailures.quietenClientLog();
  }

  private final Redis redis;
  private final boolean cluster;
  private volatile Outboxes outboxes;
  private final long timeoutMillis;
  private volatile boolean scriptsLoaded;
  /**
   * Cluster mode: one multiplexed cluster connection (it keeps one socket per master and routes
   * each command by its key's slot, following MOVED/ASK), shared by every call and pipelined.
   * Borrowing a pooled cluster connection per call instead would take a socket to every master
   * for each request and, under load, wait on itself.
   */
  private final Link main;
  private volatile boolean closed;
  private final Throttled refreshWarnings = new Throttled(LOG, 10_000);

  private final Vertx vertx;
  private final int waitReplicas;
  private final Request waitRequest;
  /**
   * With waitReplicas: a client of its own for script + WAIT batches. WAIT blocks the connection
   * it is sent on until the replicas answer (or its timeout), so it must not share the
   * connections of reads and of calls that do not wait. Standalone: that client's pool; cluster:
   * {@code waitLinks}, as many multiplexed cluster connections as the pool size, taken in turn.
   */
  private final Redis waitRedis;
  private final Link[] waitLinks;
  private final AtomicInteger nextWaitLink = new AtomicInteger();

  private RedisStore(Vertx vertx, RedisOptions options, boolean cluster, long timeoutMillis, int waitReplicas,
                     long waitMillis) {
    this.vertx = vertx;
    this.redis = Redis.createClient(vertx, options);
    this.cluster = cluster;
    this.timeoutMillis = timeoutMillis;
    this.waitReplicas = waitReplicas;
    this.waitRequest = waitReplicas > 0 ? Request.cmd(Command.WAIT).arg(waitReplicas).arg(waitMillis) : null;
    this.main = new Link(redis, false);
    // Each wait link holds a socket per node, and a renewal takes another before the old is let go
    // (a retired one is kept for the command timeout).
    this.waitRedis = waitReplicas > 0
        ? Redis.createClient(vertx, new RedisOptions(options).setMaxPoolSize(options.getMaxPoolSize() * 3)) : null;
    this.waitLinks = new Link[waitReplicas > 0 && cluster ? options.getMaxPoolSize() : 0];
    for (int i = 0; i < waitLinks.length; i++) {
      waitLinks[i] = new Link(waitRedis, true);
    }
    if (cluster) {
      // Connected now, while the cluster answers: a cluster connection needs every master to answer
      // its handshake, so one made later, while a master hangs, would fail (each loop's client
      // otherwise connects at its first command, which may come long after start).
      main.connection();
      for (Link l : waitLinks) {
        l.connection();
      }
    }
  }

  /** A client for the configured Redis: standalone, or cluster when cluster nodes are set. */
  public static RedisStore create(Vertx vertx, Settings.Redis redis) {
    return create(vertx, redis.url(), redis.cluster(), redis.poolSize(), redis.timeoutMillis(), redis.waitReplicas(),
        redis.waitMillis(), redis.tls());
  }

  public static RedisStore create(Vertx vertx, String redisUrl, List<String> clusterNodes, int poolSize) {
    return create(vertx, redisUrl, clusterNodes, poolSize, 5000);
  }

  /**
   * @param timeoutMillis how long one command may go unanswered before the caller is told the store is
   *     unavailable (a hung or partitioned Redis must not hold requests forever). The command may still
   *     run later; the protocol is built for that (docs/protocol.md).
   */
  public static RedisStore create(Vertx vertx, String redisUrl, List<String> clusterNodes, int poolSize,
                                  long timeoutMillis) {
    return create(vertx, redisUrl, clusterNodes, poolSize, timeoutMillis, 0, 0, Settings.Tls.NONE);
  }

  /**
   * @param waitReplicas when above 0, every script is followed on the same connection by
   *     {@code WAIT waitReplicas waitMillis}, and its answer is given only once that many replicas
   *     have the change: a failover to a replica then cannot lose an acknowledged commit. Fewer
   *     replicas in time is a 503 (the change stands on the master; scripts are idempotent, so the
   *     client's retry answers from it).
   */
  public static RedisStore create(Vertx vertx, String redisUrl, List<String> clusterNodes, int poolSize,
                                  long timeoutMillis, int waitReplicas, long waitMillis, Settings.Tls tls) {
    RedisOptions options = new RedisOptions()
        .setMaxPoolSize(poolSize)
        .setMaxPoolWaiting(100_000)
        .setMaxWaitingHandlers(100_000)
        .setPoolRecycleTimeout(15_000);
    if (clusterNodes != null && !clusterNodes.isEmpty()) {
      options.setType(RedisClientType.CLUSTER);
      clusterNodes.forEach(options::addConnectionString);
    } else {
      options.setConnectionString(redisUrl);
    }
    options.getNetClientOptions().setConnectTimeout(2000).setTcpNoDelay(true);
    secure(options.getNetClientOptions(), tls);
    return new RedisStore(vertx, options, clusterNodes != null && !clusterNodes.isEmpty(),
        timeoutMillis, waitReplicas, waitMillis);
  }

  /**
   * TLS for {@code rediss://} URLs (Vert.x upgrades those connections with these options): the
   * server's certificate must name the host connected to (Vert.x 5 refuses TLS until an algorithm
   * is chosen, so it is always chosen here), trusted from the given CA file or the JVM's store, with
   * the client certificate where one is given. Options for a plain {@code redis://} URL are
   * untouched by it.
   */
  public static void secure(NetClientOptions net, Settings.Tls tls) {
    net.setHostnameVerificationAlgorithm(tls.verifyHostname() ? "HTTPS" : "");
    if (tls.caPath() != null) {
      net.setTrustOptions(new PemTrustOptions().addCertPath(tls.caPath()));
    }
    if (tls.certPath() != null) {
      net.setKeyCertOptions(new PemKeyCertOptions().setCertPath(tls.certPath()).setKeyPath(tls.keyPath()));
    }
  }

  public Future<Void> close() {
    closed = true;
    main.close();
    for (Link l : waitLinks) {
      l.close();
    }
    return waitRedis == null ? redis.close() : Future.join(redis.close(), waitRedis.close()).mapEmpty();
  }

  /** Loads every script (SCRIPT LOAD), so the first EVALSHA of each finds it. */
  public Future<Void> loadScripts() {
    List<Future<Response>> loads = Arrays.stream(Script.values())
        .map(s -> send(Request.cmd(Command.SCRIPT).arg("LOAD").arg(ScriptSource.source(s))))
        .toList();
    return Future.all(loads).map(cf -> {
      scriptsLoaded = true;
      return null;
    });
  }

  /** True in front of a Redis Cluster: keys of different slots may live on different nodes. */
  public boolean cluster() {
    return cluster;
  }

  public boolean scriptsLoaded() {
    return scriptsLoaded;
  }

  /**
   * Runs a script by EVALSHA. On NOSCRIPT (a restarted or flushed Redis, or a cluster node that
   * never saw SCRIPT LOAD) it retries once with EVAL of the source: that runs on the node owning
   * the keys and leaves the script cached there for the next EVALSHA.
   */
  public Future<Response> eval(Script script, List<String> keys, List<String> args) {
    Outboxes o = outboxes;
    if (cluster && o != null && !keys.isEmpty()) {
      String outbox = keys.get(keys.size() - 1);
      if (outbox.endsWith(":out")) {
        // Registered before the first write, relayed soon after (even after a timeout: it may have run).
        return o.register(this, outbox).compose(v -> evalNow(script, keys, args))
            .onComplete(ar -> o.touched(outbox));
      }
    }
    return evalNow(script, keys, args);
  }

  /**
   * Cluster mode: the scripts' outboxes are registered and relayed by {@code o} (shared by every client
   * of the process). Without it (a tool, a test) the outboxes are written but nobody relays them.
   */
  public RedisStore trackOutboxes(Outboxes o) {
    this.outboxes = o;
    return this;
  }

  private Future<Response> evalNow(Script script, List<String> keys, List<String> args) {
    if (waitReplicas > 0) {
      return evalAndWait(script, keys, args, false, 0);
    }
    Request req = evalRequest(Command.EVALSHA, ScriptSource.sha(script), keys, args);
    return raw(req).timeout(timeoutMillis, TimeUnit.MILLISECONDS).recover(err -> {
      if (err instanceof ErrorType e && e.is("NOSCRIPT")) {
        LOG.log(System.Logger.Level.INFO, "Redis did not know script {0} (restarted or flushed?): sent it again",
            script.file);
        return send(evalRequest(Command.EVAL, ScriptSource.source(script), keys, args));
      }
      return Future.failedFuture(RedisFailures.translate(err));
    });
  }

  private static Request evalRequest(Command cmd, String shaOrSource, List<String> keys, List<String> args) {
    Request req = Request.cmd(cmd).arg(shaOrSource).arg(keys.size());
    for (String k : keys) {
      req.arg(k);
    }
    for (String a : args) {
      req.arg(a);
    }
    return req;
  }

  /**
   * The script and a WAIT in one batch: one write on the connection to the node owning the keys,
   * so the WAIT counts replicas for exactly this connection's writes, the script's included. A
   * batch reports an error reply as "ERR [index] ...", so redirections and NOSCRIPT are told
   * apart by their text; a redirected batch did not run and is sent again after a moment (the
   * client relearns the slot map within its cache TTL, 1 s).
   */
  private Future<Response> evalAndWait(Script script, List<String> keys, List<String> args, boolean source,
                                       int redirects) {
    Request req = source ? evalRequest(Command.EVAL, ScriptSource.source(script), keys, args)
        : evalRequest(Command.EVALSHA, ScriptSource.sha(script), keys, args);
    return waitBatch(List.of(req, waitRequest)).timeout(timeoutMillis, TimeUnit.MILLISECONDS).transform(ar -> {
      if (ar.succeeded()) {
        Response acked = ar.result().get(1);
        long count = acked == null ? 0 : acked.toLong();
        if (count < waitReplicas) {
          return Future.failedFuture(new StoreUnavailableException("Redis applied the change but only " + count
              + " of " + waitReplicas + " replica(s) confirmed it in time (ALLOT_REDIS_WAIT_REPLICAS)", null));
        }
        return Future.succeededFuture(ar.result().get(0));
      }
      Throwable err = ar.cause();
      String msg = err instanceof ErrorType ? String.valueOf(err.getMessage()) : "";
      if (!msg.contains("[0]")) {
        return Future.failedFuture(translateBatch(err, msg)); // the script ran (or the socket failed)
      }
      if (msg.contains("NOSCRIPT") && !source) {
        LOG.log(System.Logger.Level.INFO, "Redis did not know script {0} (restarted or flushed?): sent it again",
            script.file);
        return evalAndWait(script, keys, args, true, redirects);
      }
      if (redirects < 40 && (msg.contains("MOVED ") || msg.contains("ASK ") || msg.contains("TRYAGAIN")
          || msg.contains("CLUSTERDOWN"))) {
        return vertx.timer(50L).compose(t -> evalAndWait(script, keys, args, source, redirects + 1));
      }
      return Future.failedFuture(translateBatch(err, msg));
    });
  }

  /**
   * A batch's failure: the client folds each failed entry into one "ERR [i] ..." error, also
   * when the entry failed because the socket went away, so the text decides what it was.
   */
  private Throwable translateBatch(Throwable err, String msg) {
    if (!(err instanceof ErrorType)) {
      return RedisFailures.translate(err);
    }
    if (!msg.contains("[0]") && msg.contains("[1]")) {
      // The script ran; only its WAIT failed (a master being demoted answers "UNBLOCKED ..."):
      // the change stands unconfirmed, which is a 503 and never a 500 or a retry.
      return new StoreUnavailableException("Redis applied the change but could not confirm it on a replica: " + msg,
          err);
    }
    return RedisFailures.translate(err);
  }

  private Future<List<Response>> waitBatch(List<Request> requests) {
    if (!cluster) {
      return waitRedis.batch(requests);
    }
    Link link = waitLinks[Math.floorMod(nextWaitLink.getAndIncrement(), waitLinks.length)];
    return link.connection().compose(c -> c.batch(requests)).andThen(ar -> {
      if (ar.failed() && !(ar.cause() instanceof ErrorType)) {
        link.refresh();
      }
    });
  }

  /** Sends one command; failures to reach Redis become {@link StoreUnavailableException}. */
  public Future<Response> send(Request request) {
    return raw(request).timeout(timeoutMillis, TimeUnit.MILLISECONDS)
        .recover(err -> Future.failedFuture(RedisFailures.translate(err)));
  }

  private Future<Response> raw(Request request) {
    if (!cluster) {
      return redis.send(request);
    }
    return clusterSend(request, 0);
  }

  /**
   * A command that met a slot on the move (MOVED, ASK, TRYAGAIN) did not run: send it again after
   * a moment, by which time the client has relearned the slot map. A few tries, then 503.
   */
  private Future<Response> clusterSend(Request request, int attempt) {
    return main.connection().compose(c -> c.send(request)).recover(err -> {
      if (attempt < 8 && err instanceof ErrorType e && (e.is("MOVED") || e.is("ASK") || e.is("TRYAGAIN"))) {
        return vertx.timer(25L * (attempt + 1)).compose(t -> clusterSend(request, attempt + 1));
      }
      if (!(err instanceof ErrorType)) {
        main.refresh(); // a node's socket closed or could not be made: see Link.refresh()
      }
      return Future.failedFuture(err);
    });
  }

  /**
   * One multiplexed cluster connection, renewed without a gap.
   *
   * <p>A node's socket ended or failed (a master died, a node restarted, a failover is under way).
   * The Vert.x cluster client makes a connection to every node in the slot map or fails as a
   * whole, and a dead node stays in that map until the cluster marks it failed: dropping the
   * current connection at once would fail every call, also those for the healthy masters, for the
   * whole failover. So the current connection keeps serving (calls for the dead node's slots fail
   * with 503; new masters are connected on demand) while a replacement is made in the background,
   * at most once a second until the whole cluster answers, then swapped in.
   */
  private final class Link {
    private final Redis client;
    private final boolean quiet; // the wait links: the main link's log lines say it for them
    private Future<RedisConnection> current;
    private boolean refreshing;
    private long lastRefresh;

    Link(Redis client, boolean quiet) {
      this.client = client;
      this.quiet = quiet;
    }

    synchronized Future<RedisConnection> connection() {
      if (current == null || current.failed()) {
        Future<RedisConnection> fresh = connectWithin();
        current = fresh;
        fresh.onSuccess(this::watch);
        return fresh;
      }
      return current;
    }

    /**
     * A cluster connection, or a failure within the command timeout. The client's connect has no
     * deadline of its own: a master that accepts the socket but never answers (stopped, paused,
     * half-partitioned) would leave it pending for ever, and every command behind it.
     */
    private Future<RedisConnection> connectWithin() {
      Promise<RedisConnection> bounded = Promise.promise();
      long timer = vertx.setTimer(timeoutMillis, t -> bounded.tryFail(new StoreUnavailableException(
          "Redis Cluster: no connection to every master within " + timeoutMillis + " ms (a node not answering?)",
          null)));
      client.connect().onComplete(ar -> {
        vertx.cancelTimer(timer);
        if (ar.failed()) {
          bounded.tryFail(ar.cause());
        } else if (!bounded.tryComplete(ar.result())) {
          ar.result().close(); // made after we gave up on it
        }
      });
      return bounded.future();
    }

    private void watch(RedisConnection c) {
      c.exceptionHandler(err -> refresh());
      c.endHandler(v -> refresh());
    }

    synchronized void refresh() {
      if (closed || refreshing || current == null || !current.succeeded()) {
        return;
      }
      long wait = lastRefresh + 1000 - System.currentTimeMillis();
      refreshing = true;
      if (wait > 0) {
        // At most one renewal a second: calls still finishing on a retired connection fail too.
        vertx.setTimer(wait, t -> {
          synchronized (this) {
            refreshing = false;
          }
          refresh();
        });
        return;
      }
      lastRefresh = System.currentTimeMillis();
      connectWithin().onComplete(ar -> {
        RedisConnection old = null;
        boolean keep;
        synchronized (this) {
          refreshing = false;
          keep = ar.succeeded() && !closed;
          if (keep) {
            old = current != null && current.succeeded() ? current.result() : null;
            current = Future.succeededFuture(ar.result());
          }
        }
        if (ar.succeeded() && !keep) {
          ar.result().close(); // the store was closed meanwhile
        } else if (keep) {
          watch(ar.result());
          if (old != null) {
            RedisConnection retired = old;
            retired.exceptionHandler(null).endHandler(null);
            // Calls already written on it get their answers; new ones take the fresh connection.
            vertx.setTimer(timeoutMillis, t -> retired.close());
          }
          LOG.log(quiet ? System.Logger.Level.DEBUG : System.Logger.Level.INFO, "Redis Cluster connection renewed");
        } else {
          if (!quiet && !closed) {
            warnRefresh(ar.cause());
          }
          refresh(); // again in a second
        }
      });
    }

    synchronized void close() {
      if (current != null && current.succeeded()) {
        current.result().close();
      }
    }
  }

  private void warnRefresh(Throwable cause) {
    refreshWarnings.warn(() -> "Redis Cluster: cannot reach every node yet, still serving on the "
        + "current connection and retrying every second: " + cause.getMessage());
  }

  /**
   * Sends several commands in one pipelined write on one connection (one round trip) where the
   * client allows it; a cluster client sends them one by one, each to the node of its key.
   */
  public Future<List<Response>> pipeline(List<Request> requests) {
    if (cluster) {
      List<Future<Response>> each = requests.stream().map(this::send).toList();
      return Future.all(each).map(cf -> each.stream().map(Future::result).toList());
    }
    return redis.batch(requests).timeout(timeoutMillis, TimeUnit.MILLISECONDS)
        .recover(err -> Future.failedFuture(RedisFailures.translate(err)));
  }

  public Future<Response> send(Command cmd, Object... args) {
    Request req = Request.cmd(cmd);
    for (Object a : args) {
      req.arg(String.valueOf(a));
    }
    return send(req);
  }

  public Future<Boolean> ping() {
    return send(Request.cmd(Command.PING)).map(r -> r != null && "PONG".equals(r.toString()));
  }
}
