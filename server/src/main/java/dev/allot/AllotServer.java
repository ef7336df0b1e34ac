package dev.allot;

import dev.allot.config.Settings;
import dev.allot.http.ApiVerticle;
import dev.allot.http.ConnectionGate;
import dev.allot.http.HttpMetrics;
import dev.allot.outbound.Deliveries;
import dev.allot.outbound.Feed;
import dev.allot.outbound.OutboxKeeper;
import dev.allot.outbound.Webhooks;
import dev.allot.stock.Allocations;
import dev.allot.stock.Catalog;
import dev.allot.stock.Inventory;
import dev.allot.stock.Metrics;
import dev.allot.stock.Movements;
import dev.allot.stock.Reservations;
import dev.allot.stock.StockServices;
import dev.allot.stock.Sweeper;
import dev.allot.stream.StreamHub;
import dev.allot.store.Creations;
import dev.allot.store.Decisions;
import dev.allot.store.EventLog;
import dev.allot.store.InFlight;
import dev.allot.store.Outboxes;
import dev.allot.store.RecordStore;
import dev.allot.store.RedisProcess;
import dev.allot.store.RedisSettings;
import dev.allot.store.RedisStore;
import dev.allot.store.Store;
import dev.allot.store.WebhookStore;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.micrometer.Label;
import io.vertx.micrometer.MicrometerMetricsFactory;
import io.vertx.micrometer.MicrometerMetricsOptions;
import io.vertx.micrometer.VertxPrometheusOptions;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.LongSupplier;

/** One Allot server: its Vert.x, its Redis client, its verticles; and, in demo mode, its Redis. */
public final class AllotServer {
  private static final System.Logger LOG = System.getLogger(AllotServer.class.getName());

  private final Settings settings;
  private final Vertx vertx;
  private final RedisProcess embedded;
  private final RedisStore redis;
  private final List<String> deployments = new ArrayList<>();
  private int port;
  /** The HTTP methods a metric names; any other is counted as OTHER. */
  static final java.util.Set<String> KNOWN_METHODS = java.util.Set.of("GET", "HEAD", "POST", "PUT", "DELETE",
      "PATCH", "OPTIONS");

  private long catalogTimer = -1;
  private long policyTimer = -1;
  /** 1 while Redis's maxmemory-policy is noeviction, 0 while it may evict, -1 before Redis has said. */
  private final java.util.concurrent.atomic.AtomicInteger evictionSafe = new java.util.concurrent.atomic.AtomicInteger(-1);
  private long scriptRetryTimer = -1;

  private AllotServer(Settings settings, Vertx vertx, RedisProcess embedded, RedisStore redis) {
    this.settings = settings;
    this.vertx = vertx;
    this.embedded = embedded;
    this.redis = redis;
  }

  /**
   * Starts a server and completes once it listens. Blocking (it may start a redis-server child):
   * call it from a plain thread, never from an event loop.
   */
  public static AllotServer start(Settings requested) throws Exception {
    RedisProcess embedded = requested.embeddedRedis() ? RedisProcess.start() : null;
    Settings settings = effective(requested, embedded);
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    Vertx vertx = newVertx(registry);

    // On a cluster the scripts write the outboxes of their own slots; every client of this process
    // registers them, and the keeper relays them into the feed.
    Outboxes outboxes = new Outboxes();
    RedisStore redis = RedisStore.create(vertx, settings.redis()).trackOutboxes(outboxes);
    Store store = new Store(redis, settings.stock().ledgerMaxEntries());
    Metrics metrics = new Metrics(registry);
    LongSupplier clock = System::currentTimeMillis;
    Catalog catalog = new Catalog(store);
    // Group commit's queues and limits on calls under way, one for creations, one for commits and
    // releases: per instance, shared by every event loop.
    InFlight[] inFlight = {new InFlight(settings.redis().groupCommitInFlight()),
        new InFlight(settings.redis().groupCommitInFlight())};
    StockServices shared = stockOver(redis, settings, catalog, metrics, clock, inFlight);
    Reservations reservations = shared.reservations();
    Movements movements = shared.movements();
    Sweeper sweeper = new Sweeper(new RecordStore(redis), reservations, settings.reservations(), metrics, clock);
    AllotServer server = new AllotServer(settings, vertx, embedded, redis);
    Feed feed = new Feed(new EventLog(redis), catalog);
    Deliveries deliveries = new Deliveries(vertx, new Webhooks(new WebhookStore(redis), feed, clock),
        new WebhookStore(redis), feed, clock, registry, settings.outbound().syncStaleSeconds());
    StreamHub hub = new StreamHub(settings.stream(), settings.redis(), store, catalog, registry);
    boolean demo = requested.embeddedRedis() && requested.http().apiKeys().isEmpty();
    // Each HTTP event loop gets stock services over a Redis client of its own, built on that loop.
    Settings wired = settings;
    Function<Vertx, StockServices> perLoop = loop ->
        stockOver(RedisStore.create(loop, wired.redis()).trackOutboxes(outboxes), wired, catalog, metrics, clock,
            inFlight);
    ApiVerticle.Services services = new ApiVerticle.Services(settings, perLoop, catalog, shared.inventory(),
        hub, registry, demo ? Demo.pageConfig() : null, new ConnectionGate(settings.http(), registry));
    Settings s = settings;
    try {
      Future<Void> started = server.loadScriptsOrRetry()
          .compose(v -> catalog.refreshQuietly())
          .compose(v -> s.embeddedRedis() || requested.embeddedRedis() ? Demo.load(catalog, movements, shared.inventory(), shared.allocations()) : Future.succeededFuture())
          .compose(v -> vertx.deployVerticle(sweeper).map(id -> server.deployments.add(id)))
          .compose(v -> vertx.deployVerticle(hub).map(id -> server.deployments.add(id)))
          .compose(v -> vertx.deployVerticle(new OutboxKeeper(redis, outboxes, s.outbound(), clock, deliveries))
              .map(id -> server.deployments.add(id)))
          .compose(v -> {
            List<ApiVerticle> apis = new ArrayList<>();
            return vertx.deployVerticle(() -> {
              ApiVerticle api = new ApiVerticle(services);
              synchronized (apis) {
                apis.add(api);
              }
              return api;
            }, new DeploymentOptions().setInstances(s.http().instances())).map(id -> {
              server.deployments.add(id);
              server.port = apis.get(0).actualPort();
              return null;
            });
          });
      started.toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      server.stop();
      throw e;
    }
    server.catalogTimer = vertx.setPeriodic(settings.stock().catalogRefreshMillis(), t -> catalog.refreshQuietly());
    // A Redis that may evict keys loses stock and reservations: say so at start and every minute after.
    io.micrometer.core.instrument.Gauge.builder("allot_redis_noeviction", server.evictionSafe,
            java.util.concurrent.atomic.AtomicInteger::get)
        .description("1 while Redis's maxmemory-policy is noeviction, 0 while it may evict keys (not ready), "
            + "-1 until Redis answers").register(registry);
    server.checkEvictionPolicy();
    server.checkRecordEncoding();
    server.policyTimer = vertx.setPeriodic(60_000, t -> server.checkEvictionPolicy());
    if (requested.embeddedRedis() && requested.http().apiKeys().isEmpty()) {
      LOG.log(System.Logger.Level.INFO, "Demo API keys: demo-admin (admin), demo-web (channel:web),"
          + " demo-marketplace (channel:marketplace), demo-b2b (channel:b2b, backorders), demo-reader (reader)");
    }
    LOG.log(System.Logger.Level.INFO, "Allot ready on port {0,number,#} ({1} HTTP instances, native transport {2}),"
            + " Redis {3}{4}", server.port, settings.http().instances(), vertx.isNativeTransportEnabled(),
        settings.redis().description(), embedded != null ? " (embedded)" : "");
    return server;
  }

  /** The settings as served: an embedded Redis's URL, and the demo keys when none are configured; says what is risky. */
  private static Settings effective(Settings requested, RedisProcess embedded) {
    Settings settings = requested;
    if (embedded != null) {
      settings = settings.withRedisUrl(embedded.url());
      LOG.log(System.Logger.Level.WARNING, "ALLOT_REDIS_URL is not set: started an embedded Redis ({0}) on {1},"
          + " with nothing persisted. Demo mode: fine for play, never for real stock.", embedded.binary(), embedded.url());
      if (settings.http().apiKeys().isEmpty()) {
        settings = settings.withApiKeys(Demo.KEYS);
      }
    }
    if (settings.http().authDisabled()) {
      LOG.log(System.Logger.Level.WARNING, "*** AUTH IS DISABLED (ALLOT_AUTH_DISABLED=true): every caller is an admin."
          + " Never run like this where anyone else can reach the port. ***");
    } else if (settings.http().apiKeys().isEmpty()) {
      LOG.log(System.Logger.Level.WARNING, "ALLOT_API_KEYS is empty: every /v1 call will answer 401 until keys are configured");
    }
    return settings;
  }

  /** Vert.x with native transport where the OS has it, and its metrics in the Prometheus registry. */
  private static Vertx newVertx(PrometheusMeterRegistry registry) {
    // Any client may send any method: one series per made-up one would grow /metrics without bound.
    registry.config().meterFilter(MeterFilter.replaceTagValues(Label.HTTP_METHOD.toString(),
        m -> KNOWN_METHODS.contains(m) ? m : "OTHER"));
    MicrometerMetricsOptions metricsOptions = new MicrometerMetricsOptions()
        .setEnabled(true)
        .setJvmMetricsEnabled(true)
        .setPrometheusOptions(new VertxPrometheusOptions().setEnabled(true))
        .addLabels(Label.HTTP_METHOD, Label.HTTP_CODE, Label.HTTP_ROUTE);
    return Vertx.builder()
        .with(new VertxOptions().setPreferNativeTransport(true).setMetricsOptions(metricsOptions))
        .withMetrics(HttpMetrics.factory(new MicrometerMetricsFactory(registry), registry,
            metricsOptions.getMetricsNaming(), KNOWN_METHODS))
        .build();
  }

  /** The stock services over one Redis client; closing them closes that client. */
  private static StockServices stockOver(RedisStore redis, Settings settings, Catalog catalog, Metrics metrics,
                                         LongSupplier clock, InFlight[] inFlight) {
    Store store = new Store(redis, settings.stock().ledgerMaxEntries());
    RecordStore records = new RecordStore(redis);
    // One Redis holds a reservation's record and all its SKUs unless it is a cluster: then one call creates it.
    Creations creations = redis.cluster() ? null : new Creations(redis, settings.stock().ledgerMaxEntries(),
        inFlight[0]);
    return new StockServices(
        new Reservations(store, records, creations,
            redis.cluster() ? null : new Decisions(redis, settings.stock().ledgerMaxEntries(), inFlight[1]), catalog,
            settings.reservations(),
            settings.http().storeRetryAfterSeconds(), metrics, clock),
        new Movements(store, catalog, settings.stock(), metrics, clock),
        new Inventory(store, records, catalog),
        new Allocations(store, catalog, clock),
        new EventLog(redis),
        new WebhookStore(redis),
        redis::close);
  }

  /** Loads the scripts; if Redis is not there yet, the server starts anyway (not ready) and keeps trying. */
  private Future<Void> loadScriptsOrRetry() {
    return redis.loadScripts().recover(err -> {
      LOG.log(System.Logger.Level.WARNING, "Redis {0} cannot be reached at start ({1}); serving 503 until it can",
          settings.redis().description(), err.toString());
      scheduleScriptRetry();
      return Future.succeededFuture();
    });
  }

  private void scheduleScriptRetry() {
    scriptRetryTimer = vertx.setTimer(1000, t -> redis.loadScripts()
        .onSuccess(v -> LOG.log(System.Logger.Level.INFO, "Redis {0} reachable: scripts loaded, ready", settings.redis().description()))
        .onFailure(err -> scheduleScriptRetry()));
  }

  /**
   * Once at start: says when Redis keeps a typical reservation record as a hash table rather than
   * one compact listpack (its 201 document is longer than hash-max-listpack-value), and what that costs.
   * Nothing when CONFIG is not allowed: a managed Redis's operator sets it there.
   */
  private void checkRecordEncoding() {
    RedisSettings.hashValueLimit(redis).onSuccess(limit -> {
      if (limit >= 0 && limit < RedisProcess.RECOMMENDED_HASH_VALUE_BYTES / 2) {
        LOG.log(System.Logger.Level.WARNING, "Redis {0} has hash-max-listpack-value {1}: a reservation record whose"
            + " 201 document is longer (most are 150-300 bytes) is kept as a hash table, about 450 bytes more a held"
            + " reservation (30%). Set hash-max-listpack-value {2} (deploy/README.md, \"What to size\").",
            settings.redis().description(), limit, RedisProcess.RECOMMENDED_HASH_VALUE_BYTES);
      }
    });
  }

  /** Logs an error while Redis's maxmemory-policy is not noeviction (the instance is not ready meanwhile). */
  private void checkEvictionPolicy() {
    RedisSettings.evictionPolicy(redis).onSuccess(policy -> {
      evictionSafe.set(RedisSettings.SAFE_POLICY.equals(policy) ? 1 : 0);
      if (!RedisSettings.SAFE_POLICY.equals(policy)) {
        LOG.log(System.Logger.Level.ERROR, "Redis {0} has maxmemory-policy {1}: it may evict Allot''s keys (stock,"
            + " holds, reservation records) and lose them. Set maxmemory-policy noeviction (redis.conf or CONFIG SET)."
            + " /health/ready answers 503 until it is.", settings.redis().description(), policy);
      }
    });
  }

  public int port() {
    return port;
  }

  /**
   * Stops accepting, lets requests in flight finish, closes sockets and Redis; stops the embedded
   * Redis last. Blocking (it waits for Vert.x to close): call it from a plain thread, such as the
   * shutdown hook, never from an event loop.
   */
  public void stop() {
    try {
      if (catalogTimer >= 0) {
        vertx.cancelTimer(catalogTimer);
      }
      if (policyTimer >= 0) {
        vertx.cancelTimer(policyTimer);
      }
      if (scriptRetryTimer >= 0) {
        vertx.cancelTimer(scriptRetryTimer);
      }
      List<Future<Void>> undeploys = new ArrayList<>();
      for (int i = deployments.size() - 1; i >= 0; i--) {
        undeploys.add(vertx.undeploy(deployments.get(i)));
      }
      Future.join(undeploys).eventually(() -> redis.close()).eventually(() -> vertx.close())
          .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      LOG.log(System.Logger.Level.WARNING, "unclean stop: " + e);
    } finally {
      if (embedded != null) {
        embedded.close();
      }
    }
  }


}
