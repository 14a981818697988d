package io.mfo.realkestra;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.micronaut.context.ApplicationContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The HTTP side: Kestra's REST paths and JSON shapes, Basic auth, tenant {@code main}. Each route
 * only decodes the request and hands it to {@link Api} (engine service calls); errors become
 * Kestra's JSON error bodies with the status Kestra's webserver gives them.
 */
final class Front {
    private final String user;
    private final String password;
    private HttpServer server;
    private Api api;
    private ObjectMapper json;

    Front(String user, String password) {
        this.user = user;
        this.password = password;
    }

    void bind(int port) throws IOException {
        // The JDK server leaves Nagle's algorithm on unless told (sun.net.httpserver.ServerConfig
        // reads this property once, when the server classes load): it writes a response's headers
        // and body apart, so every response after a connection's first waited ~40 ms for the
        // client's delayed ACK. Kestra's own webserver (Netty) has TCP_NODELAY on.
        System.setProperty("sun.net.httpserver.nodelay", "true");
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 256);
        server.setExecutor(Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "real-kestra-http");
            t.setDaemon(true);
            return t;
        }));
        server.createContext("/", this::handle);
    }

    int port() {
        return server.getAddress().getPort();
    }

    void start(ApplicationContext context, Engine engine) {
        this.api = new Api(context, engine);
        this.json = api.json();
        server.start();
    }

    String version() {
        return api.version();
    }

    void stop() {
        if (server != null) {
            server.stop(0);
        }
    }

    /** One decoded request. */
    record Request(String method, String path, Map<String, List<String>> query, String contentType,
                   byte[] body, Map<String, List<String>> headers, String rawUri) {
        String param(String name) {
            List<String> values = query.get(name);
            return values == null || values.isEmpty() ? null : values.get(0);
        }

        List<String> params(String name) {
            return query.getOrDefault(name, List.of());
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** A streamed body (server-sent events): written and flushed chunk by chunk until it returns. */
    interface Stream {
        void write(OutputStream out) throws IOException;
    }

    /** A response: status, body (JSON-serialised unless already bytes/String, or a {@link Stream}), content type. */
    record Reply(int status, Object body, String contentType) {
        static Reply json(Object body) {
            return new Reply(200, body, "application/json");
        }

        static Reply status(int status) {
            return new Reply(status, null, null);
        }
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            Reply reply;
            Request request = null;
            try {
                request = decode(exchange);
                if (!open(request.path()) && !authorized(exchange)) {
                    exchange.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"Kestra\"");
                    reply = Errors.reply(401, "Unauthorized", null, request.path(), null);
                } else {
                    reply = api.route(request);
                }
            } catch (Throwable e) {
                reply = Errors.of(e, request == null ? exchange.getRequestURI().getPath() : request.path());
            }
            send(exchange, reply);
        }
    }

    private static boolean open(String path) {
        return path.replaceAll("/+$", "").equals("/api/v1/configs") || path.contains("/executions/webhook/");
    }

    private boolean authorized(HttpExchange exchange) {
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
            return false;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return false;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return false;
        }
        return same(decoded.substring(0, colon), user) & same(decoded.substring(colon + 1), password);
    }

    private static boolean same(String a, String b) {
        return MessageDigest.isEqual(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static Request decode(HttpExchange exchange) throws IOException {
        String rawPath = exchange.getRequestURI().getRawPath();
        String path = URLDecoder.decode(rawPath.replace("+", "%2B"), StandardCharsets.UTF_8);
        Map<String, List<String>> query = new LinkedHashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw != null && !raw.isEmpty()) {
            for (String pair : raw.split("&")) {
                if (pair.isEmpty()) {
                    continue;
                }
                int eq = pair.indexOf('=');
                String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
                String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
                query.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
            }
        }
        byte[] body;
        try (InputStream in = exchange.getRequestBody()) {
            body = in.readAllBytes();
        }
        return new Request(exchange.getRequestMethod().toUpperCase(), path, query,
            exchange.getRequestHeaders().getFirst("Content-Type"), body, exchange.getRequestHeaders(),
            exchange.getRequestURI().toString());
    }

    private void send(HttpExchange exchange, Reply reply) throws IOException {
        if (reply.body() instanceof Stream stream) {
            exchange.getResponseHeaders().set("Content-Type", reply.contentType());
            exchange.getResponseHeaders().set("Cache-Control", "no-cache");
            exchange.sendResponseHeaders(reply.status(), 0);
            try (OutputStream out = exchange.getResponseBody()) {
                stream.write(out);
            } catch (IOException closedByClient) {
                // the client went away: nothing to answer
            }
            return;
        }
        byte[] bytes;
        String type = reply.contentType();
        if (reply.body() == null) {
            bytes = new byte[0];
        } else if (reply.body() instanceof byte[] b) {
            bytes = b;
        } else if (reply.body() instanceof String s && type != null && !type.contains("json")) {
            bytes = s.getBytes(StandardCharsets.UTF_8);
        } else {
            bytes = (json != null ? json : new ObjectMapper()).writeValueAsBytes(reply.body());
            type = type == null ? "application/json" : type;
        }
        if (type != null && bytes.length > 0) {
            exchange.getResponseHeaders().set("Content-Type", type);
        }
        boolean empty = bytes.length == 0 || reply.status() == 204 || "HEAD".equals(exchange.getRequestMethod());
        exchange.sendResponseHeaders(reply.status(), empty ? -1 : bytes.length);
        if (!empty) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
