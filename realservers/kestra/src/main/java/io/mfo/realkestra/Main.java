package io.mfo.realkestra;

import io.kestra.core.server.Service;
import io.micronaut.context.ApplicationContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Boots Kestra's own engine in this JVM (executor, worker, scheduler and indexer on an in-memory
 * H2 repository and queue, local storage) and serves {@link Front}, our thin HTTP translation of
 * the REST paths our client uses.
 *
 * Environment: PORT (default 8080, 0 = any free port), KESTRA_USER / KESTRA_PASSWORD (basic
 * auth, throw-away defaults), KESTRA_DATA_DIR (storage and task temp dirs; a fresh temp dir
 * by default), KESTRA_WORKER_THREADS (default 8).
 */
public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        try {
            run();
        } catch (Throwable e) {
            System.err.println("real-kestra: startup failed");
            e.printStackTrace();
            Runtime.getRuntime().halt(1);
        }
    }

    private static void run() throws Exception {
        long t0 = System.nanoTime();
        int port = Integer.parseInt(env("PORT", "8080"));
        String user = env("KESTRA_USER", "admin@kestra.io");
        String password = env("KESTRA_PASSWORD", "Admin1234");
        Path data = dataDir();
        int workerThreads = Integer.parseInt(env("KESTRA_WORKER_THREADS", "8"));

        Front front = new Front(user, password);
        front.bind(port);  // bind first: the engine's URLs (kestra.url) carry the real port
        String url = "http://127.0.0.1:" + front.port();

        ApplicationContext context = ApplicationContext.builder()
            .deduceEnvironment(false)
            .environments("real-kestra")
            .properties(configuration(data, url))
            .start();

        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "real-kestra-service");
            t.setDaemon(true);
            return t;
        });
        Engine engine = new EngineImpl(context);
        Errors.configure(engine.major(), engine::violationPath);
        List<Service> services = engine.startServices(pool, workerThreads);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(front, context, services), "real-kestra-stop"));

        front.start(context, engine);
        waitRunning(services, Duration.ofSeconds(90));
        System.err.printf("real-kestra: engine %s up in %.1fs (data in %s)%n",
            front.version(), (System.nanoTime() - t0) / 1e9, data);
        System.out.println("ready: " + url);
        System.out.flush();
        Thread.currentThread().join();
    }

    /** The configuration `kestra server local` would read from its application.yml, trimmed to one JVM. */
    static Map<String, Object> configuration(Path data, String url) {
        Map<String, Object> p = new HashMap<>();
        p.put("micronaut.application.name", "kestra");
        p.put("kestra.server-type", "STANDALONE");
        p.put("kestra.url", url + "/");
        p.put("kestra.repository.type", "memory");   // H2 in-memory database (repository-memory)
        p.put("kestra.queue.type", "memory");        // JDBC queue on the same H2 database
        p.put("kestra.storage.type", "local");
        p.put("kestra.storage.local.base-path", data.resolve("storage").toString());
        p.put("kestra.tasks.tmp-dir.path", data.resolve("tmp").toString());
        p.put("kestra.jdbc.queues.min-poll-interval", "10ms");
        p.put("kestra.jdbc.queues.max-poll-interval", "100ms");
        p.put("kestra.jdbc.queues.poll-switch-interval", "5s");
        p.put("kestra.jdbc.cleaner.initial-delay", "1h");
        p.put("kestra.jdbc.cleaner.fixed-delay", "1h");
        p.put("kestra.jdbc.cleaner.retention", "7d");
        p.put("kestra.server.service.purge.initial-delay", "1h");
        p.put("kestra.server.service.purge.fixed-delay", "1h");
        p.put("kestra.server.service.purge.retention", "7d");
        p.put("kestra.environment.name", "real-kestra");
        p.put("kestra.server.liveness.enabled", "false");
        p.put("kestra.server.termination-grace-period", "5s");
        p.put("kestra.server.basic-auth.enabled", "false");
        p.put("kestra.anonymous-usage-report.enabled", "false");
        p.put("kestra.tutorial-flows.enabled", "false");
        p.put("kestra.ee.tutorial-flows.enabled", "false");
        p.put("kestra.variables.env-vars-prefix", "KESTRA_");
        p.put("kestra.variables.cache-enabled", "true");
        p.put("kestra.variables.cache-size", "1000");
        p.put("kestra.retries.attempts", "5");
        p.put("kestra.retries.multiplier", "2.0");
        p.put("kestra.retries.delay", "1s");
        p.put("kestra.hidden-labels.prefixes", List.of("system.", "internal."));
        p.put("kestra.metrics.prefix", "kestra");
        p.put("jackson.serialization-inclusion", "non_null");
        p.put("jackson.serialization.writeDatesAsTimestamps", "false");
        p.put("jackson.serialization.writeDurationsAsTimestamps", "false");
        p.put("jackson.deserialization.FAIL_ON_UNKNOWN_PROPERTIES", "false");
        p.put("micronaut.server.enabled", "false");
        // 2.x: the worker reaches the worker controller over gRPC; a free local port, not the
        // fixed 50051, so several servers (both majors, parallel test workers) can run at once.
        int grpc = freePort();
        p.put("kestra.controller.port", String.valueOf(grpc));
        p.put("kestra.worker.controllers.type", "STATIC");
        p.put("kestra.worker.controllers.static.endpoints", List.of(Map.of("host", "127.0.0.1", "port", grpc)));
        p.put("endpoints.all.enabled", "false");
        return p;
    }

    static void waitRunning(List<Service> services, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            List<String> pending = services.stream()
                .filter(s -> s.getState() != null && !s.getState().isRunning())
                .map(s -> s.getClass().getSimpleName() + "=" + s.getState())
                .toList();
            if (pending.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Kestra services not running after " + timeout + ": " + pending);
            }
            Thread.sleep(20);
        }
    }

    static void stop(Front front, ApplicationContext context, List<Service> services) {
        front.stop();
        // Task processes started by the Process task runner are our children: never leave them behind.
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroy);
        for (Service service : services) {
            try {
                service.close();
            } catch (Exception ignored) {
                // shutting down anyway
            }
        }
        try {
            context.close();
        } catch (Exception ignored) {
            // shutting down anyway
        }
        ProcessHandle.current().descendants().forEach(ProcessHandle::destroyForcibly);
    }

    private static int freePort() {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new IllegalStateException("no free local port", e);
        }
    }

    private static Path dataDir() throws IOException {
        String dir = System.getenv("KESTRA_DATA_DIR");
        Path path = dir == null || dir.isBlank() ? Files.createTempDirectory("real-kestra-") : Path.of(dir);
        Files.createDirectories(path.resolve("storage"));
        Files.createDirectories(path.resolve("tmp"));
        return path.toAbsolutePath();
    }

    private static String env(String name, String fallback) {
        String value = System.getenv(name);
        return value == null || value.isBlank() ? fallback : value;
    }
}
