package dev.allot.http;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.vertx.core.VertxOptions;
import io.vertx.core.Vertx;
import io.vertx.core.datagram.DatagramSocketOptions;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.ServerWebSocket;
import io.vertx.core.json.JsonObject;
import io.vertx.core.metrics.MetricsOptions;
import io.vertx.core.net.NetClientOptions;
import io.vertx.core.net.NetServerOptions;
import io.vertx.core.net.SocketAddress;
import io.vertx.core.spi.VertxMetricsFactory;
import io.vertx.core.spi.metrics.ClientMetrics;
import io.vertx.core.spi.metrics.DatagramSocketMetrics;
import io.vertx.core.spi.metrics.EventBusMetrics;
import io.vertx.core.spi.metrics.HttpClientMetrics;
import io.vertx.core.spi.metrics.HttpServerMetrics;
import io.vertx.core.spi.metrics.PoolMetrics;
import io.vertx.core.spi.metrics.TCPMetrics;
import io.vertx.core.spi.metrics.VertxMetrics;
import io.vertx.core.spi.observability.HttpRequest;
import io.vertx.core.spi.observability.HttpResponse;
import io.vertx.micrometer.MetricsDomain;
import io.vertx.micrometer.MetricsNaming;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The HTTP server's per-request series, recorded with meters looked up once per method, route and
 * status instead of once per request. Vert.x's Micrometer metrics register the active-requests
 * gauge and look up three meters by their tags on every request (about a tenth of the server's CPU
 * on the reserve path, docs/benchmarks.md); these are the same series under the same names and
 * tags ({@code vertx_http_server_requests_total}, {@code _response_time_seconds},
 * {@code _response_bytes}, {@code _request_bytes}, {@code _active_requests},
 * {@code _request_resets_total}; route, method and code as Vert.x labels them: the routes a request
 * went through joined with '>', a method outside {@code knownMethods} as OTHER). Everything else,
 * the connection and byte counts of the same server included, stays Vert.x's own. The labels are
 * the ones AllotServer enables (method, route, code), not read from the metrics options: a label
 * added there would need adding here.
 */
public final class HttpMetrics {
  private HttpMetrics() {
  }

  /** Vert.x's metrics factory with the HTTP server's request series replaced by the lean ones. */
  public static VertxMetricsFactory factory(VertxMetricsFactory micrometer, MeterRegistry registry,
                                            MetricsNaming naming, Set<String> knownMethods) {
    MetricsNaming names = naming.withBaseName(MetricsDomain.HTTP_SERVER.getPrefix());
    return new VertxMetricsFactory() {
      @Override
      public VertxMetrics metrics(VertxOptions options) {
        return new Wrapped(micrometer.metrics(options), registry, names, knownMethods);
      }

      @Override
      public MetricsOptions newOptions() {
        return micrometer.newOptions();
      }

      @Override
      public MetricsOptions newOptions(MetricsOptions options) {
        return micrometer.newOptions(options);
      }

      @Override
      public MetricsOptions newOptions(JsonObject json) {
        return micrometer.newOptions(json);
      }
    };
  }

  /**
   * Vert.x's metrics as they are, but for the HTTP server's. The methods' meters are shared by every
   * HTTP server of this Vert.x (Micrometer would hand a second server the first one's gauge).
   */
  private record Wrapped(VertxMetrics inner, MeterRegistry registry, MetricsNaming names, Set<String> knownMethods,
                         ConcurrentHashMap<String, Method> methods) implements VertxMetrics {
    Wrapped(VertxMetrics inner, MeterRegistry registry, MetricsNaming names, Set<String> knownMethods) {
      this(inner, registry, names, knownMethods, new ConcurrentHashMap<>());
    }

    @Override
    public HttpServerMetrics<?, ?, ?> createHttpServerMetrics(HttpServerOptions options, SocketAddress localAddress) {
      HttpServerMetrics<?, ?, ?> server = inner.createHttpServerMetrics(options, localAddress);
      return server == null ? null : new Server(server, registry, names, knownMethods, methods);
    }

    @Override
    public EventBusMetrics<?> createEventBusMetrics() {
      return inner.createEventBusMetrics();
    }

    @Override
    public ClientMetrics<?, ?, ?> createClientMetrics(SocketAddress remoteAddress, String type, String namespace) {
      return inner.createClientMetrics(remoteAddress, type, namespace);
    }

    @Override
    public HttpClientMetrics<?, ?, ?> createHttpClientMetrics(HttpClientOptions options) {
      return inner.createHttpClientMetrics(options);
    }

    @Override
    public TCPMetrics<?> createNetServerMetrics(NetServerOptions options, SocketAddress localAddress) {
      return inner.createNetServerMetrics(options, localAddress);
    }

    @Override
    public TCPMetrics<?> createNetClientMetrics(NetClientOptions options) {
      return inner.createNetClientMetrics(options);
    }

    @Override
    public DatagramSocketMetrics createDatagramSocketMetrics(DatagramSocketOptions options) {
      return inner.createDatagramSocketMetrics(options);
    }

    @Override
    public PoolMetrics<?, ?> createPoolMetrics(String type, String name, int maxSize) {
      return inner.createPoolMetrics(type, name, maxSize);
    }

    @Override
    public void vertxCreated(Vertx vertx) {
      inner.vertxCreated(vertx);
    }

    @Override
    public boolean isMetricsEnabled() {
      return inner.isMetricsEnabled();
    }

    @Override
    public void close() {
      inner.close();
    }
  }

  private static final int JOINED_MAX = 1000;
  private static final ConcurrentHashMap<String, Map<String, String>> JOINED = new ConcurrentHashMap<>();

  /** One request: its method's meters, when it began, the routes it went through. */
  static final class Request {
    final Method method;
    final long start = System.nanoTime();
    private String route;
    private boolean requestEnded;
    private boolean responseEnded;
    private boolean reset;

    Request(Method method) {
      this.method = method;
    }

    void addRoute(String name) {
      if (name == null) {
        return;
      }
      route = route == null ? name : joined(route, name);
    }

    String route() {
      return route == null ? "" : route;
    }

    /**
     * The routes so far and the next one, joined with '>': made once per pair, as every request on one
     * path goes through the same routes (route names are the router's, never a request's own text).
     * Past a bound (a router far larger than Allot's) they are joined afresh each time.
     */
    static String joined(String routes, String next) {
      Map<String, String> after = JOINED.get(routes);
      if (after == null) {
        if (JOINED.size() >= JOINED_MAX) {
          return routes + '>' + next;
        }
        after = JOINED.computeIfAbsent(routes, k -> new ConcurrentHashMap<>());
      }
      String j = after.get(next);
      if (j == null) {
        j = routes + '>' + next;
        if (after.size() < JOINED_MAX) {
          after.putIfAbsent(next, j);
        }
      }
      return j;
    }

    /** Both ends seen (and no reset): the request leaves the active count. */
    boolean requestEnded() {
      requestEnded = true;
      return !reset && responseEnded;
    }

    boolean responseEnded() {
      responseEnded = true;
      return !reset && requestEnded;
    }
  }

  /** A method's meters, and its responses' by route and status. */
  static final class Method {
    final LongAdder active = new LongAdder();
    final DistributionSummary requestBytes;
    /** Made at the first reset, as Vert.x does (no series until a request is reset). */
    final Counter.Builder resets;
    final ConcurrentHashMap<String, Response[]> byRoute = new ConcurrentHashMap<>();
    final String name;

    Method(String name, MeterRegistry registry, MetricsNaming names) {
      this.name = name;
      Gauge.builder(names.getHttpActiveRequests(), active, LongAdder::doubleValue).strongReference(true)
          .description("Number of requests being processed").tag("method", name).register(registry);
      requestBytes = DistributionSummary.builder(names.getHttpRequestBytes()).description("Size of requests in bytes")
          .tag("method", name).register(registry);
      resets = Counter.builder(names.getHttpRequestResetsCount()).description("Number of request resets")
          .tag("method", name);
    }
  }

  /** The meters of one method, route and status. */
  record Response(int code, Counter requests, Timer time, DistributionSummary bytes) {
  }

  /** Vert.x's HTTP server metrics for connections, bytes and WebSockets; the request series here. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static final class Server implements HttpServerMetrics<Request, Object, Object> {
    private final HttpServerMetrics inner;
    private final MeterRegistry registry;
    private final MetricsNaming names;
    private final Set<String> knownMethods;
    private final ConcurrentHashMap<String, Method> methods;

    Server(HttpServerMetrics<?, ?, ?> inner, MeterRegistry registry, MetricsNaming names, Set<String> knownMethods,
           ConcurrentHashMap<String, Method> methods) {
      this.inner = inner;
      this.registry = registry;
      this.names = names;
      this.knownMethods = knownMethods;
      this.methods = methods;
    }

    private Method method(String name) {
      Method m = methods.get(name);
      if (m != null) {
        return m;
      }
      // Any client may send any method: one series per made-up one would grow /metrics without bound.
      return methods.computeIfAbsent(knownMethods.contains(name) ? name : "OTHER", l -> new Method(l, registry, names));
    }

    private Response response(Method m, String route, int code) {
      Response[] known = m.byRoute.get(route);
      if (known != null) {
        for (Response r : known) {
          if (r.code() == code) {
            return r;
          }
        }
      }
      synchronized (m) {
        Response[] now = m.byRoute.getOrDefault(route, new Response[0]);
        for (Response r : now) {
          if (r.code() == code) {
            return r;
          }
        }
        String c = Integer.toString(code);
        Response made = new Response(code,
            Counter.builder(names.getHttpRequestsCount()).description("Number of processed requests")
                .tags("method", m.name, "route", route, "code", c).register(registry),
            Timer.builder(names.getHttpResponseTime()).description("Request processing time")
                .tags("method", m.name, "route", route, "code", c).register(registry),
            DistributionSummary.builder(names.getHttpResponseBytes()).description("Size of responses in bytes")
                .tags("method", m.name, "route", route, "code", c).register(registry));
        Response[] more = java.util.Arrays.copyOf(now, now.length + 1);
        more[now.length] = made;
        m.byRoute.put(route, more);
        return made;
      }
    }

    @Override
    public Request requestBegin(Object socketMetric, HttpRequest request) {
      Request r = new Request(method(request.method().name()));
      r.method.active.increment();
      return r;
    }

    @Override
    public Request responsePushed(Object socketMetric, io.vertx.core.http.HttpMethod method, String uri,
                                  HttpResponse response) {
      Request r = new Request(method(method.name()));
      r.method.active.increment();
      return r;
    }

    @Override
    public void requestEnd(Request r, HttpRequest request, long bytesRead) {
      r.method.requestBytes.record(bytesRead);
      if (r.requestEnded()) {
        r.method.active.decrement();
      }
    }

    @Override
    public void requestReset(Request r) {
      r.method.resets.register(registry).increment();
      r.method.active.decrement();
      r.reset = true;
    }

    @Override
    public void responseEnd(Request r, HttpResponse response, long bytesWritten) {
      Response m = response(r.method, r.route(), response.statusCode());
      m.requests().increment();
      m.time().record(System.nanoTime() - r.start, TimeUnit.NANOSECONDS);
      m.bytes().record(bytesWritten);
      if (r.responseEnded()) {
        r.method.active.decrement();
      }
    }

    @Override
    public void requestRouted(Request r, String route) {
      r.addRoute(route);
    }

    @Override
    public Object connected(Object socketMetric, Request requestMetric, ServerWebSocket serverWebSocket) {
      // Vert.x's counts WebSockets by the connection's tags alone (it never reads the request's).
      return inner.connected(socketMetric, null, serverWebSocket);
    }

    @Override
    public void disconnected(Object webSocketMetric) {
      inner.disconnected(webSocketMetric);
    }

    @Override
    public Object connected(SocketAddress remoteAddress, String remoteName) {
      return inner.connected(remoteAddress, remoteName);
    }

    @Override
    public void disconnected(Object socketMetric, SocketAddress remoteAddress) {
      inner.disconnected(socketMetric, remoteAddress);
    }

    @Override
    public void bytesRead(Object socketMetric, SocketAddress remoteAddress, long numberOfBytes) {
      inner.bytesRead(socketMetric, remoteAddress, numberOfBytes);
    }

    @Override
    public void bytesWritten(Object socketMetric, SocketAddress remoteAddress, long numberOfBytes) {
      inner.bytesWritten(socketMetric, remoteAddress, numberOfBytes);
    }

    @Override
    public void exceptionOccurred(Object socketMetric, SocketAddress remoteAddress, Throwable t) {
      inner.exceptionOccurred(socketMetric, remoteAddress, t);
    }

    @Override
    public void close() {
      inner.close();
    }
  }
}
