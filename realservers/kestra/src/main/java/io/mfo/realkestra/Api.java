package io.mfo.realkestra;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kestra.core.http.HttpRequest;
import io.kestra.core.models.Label;
import io.kestra.core.models.QueryFilter;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowSource;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.flows.State;
import io.kestra.core.models.flows.check.Check;
import io.kestra.core.models.triggers.AbstractTrigger;
import io.kestra.core.repositories.ArrayListTotal;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.runners.FlowInputOutput;
import io.kestra.core.serializers.JacksonMapper;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.services.ExecutionStreamingService;
import io.kestra.core.services.FlowService;
import io.kestra.core.services.WebhookService;
import io.kestra.core.utils.VersionProvider;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;
import io.micronaut.context.ApplicationContext;
import io.micronaut.data.model.Pageable;
import io.micronaut.data.model.Sort;
import io.micronaut.http.multipart.CompletedPart;
import org.slf4j.event.Level;
import io.micronaut.http.sse.Event;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;
import java.util.stream.Collectors;

import java.net.URI;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Routes: path -> one engine service call. Tenant {@code main} (Kestra OSS); the untenanted
 * {@code /api/v1/...} form is accepted too. Kestra 1.x action paths ({@code /{id}/kill}) and the
 * 2.x ones ({@code /{id}/actions/kill}) are both answered.
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class Api {
    static final String TENANT = "main";
    private static final Pattern FILTER = Pattern.compile("^filters\\[([^\\]]+)\\]\\[([A-Z_]+)\\](?:\\[\\d*\\])?$");
    private static final Pattern DOC_SEPARATOR = Pattern.compile("(?m)^---\\s*$");

    private final ObjectMapper json = JacksonMapper.ofJson();
    private final String version;
    private final FlowRepositoryInterface flowRepository;
    private final FlowService flowService;
    private final ExecutionRepositoryInterface executionRepository;
    private final FlowInputOutput flowInputOutput;
    private final WebhookService webhookService;
    private final Engine engine;
    private final ExecutionStreamingService streaming;
    private final String kestraUrl;

    Api(ApplicationContext context, Engine engine) {
        this.engine = engine;
        this.streaming = context.getBean(ExecutionStreamingService.class);
        this.version = context.getBean(VersionProvider.class).getVersion();
        this.flowRepository = context.getBean(FlowRepositoryInterface.class);
        this.flowService = context.getBean(FlowService.class);
        this.executionRepository = context.getBean(ExecutionRepositoryInterface.class);
        this.flowInputOutput = context.getBean(FlowInputOutput.class);
        this.webhookService = context.getBean(WebhookService.class);
        this.kestraUrl = context.getProperty("kestra.url", String.class).orElse("").replaceAll("/+$", "");
    }

    ObjectMapper json() {
        return json;
    }

    String version() {
        return version;
    }

    Front.Reply route(Front.Request r) throws Exception {
        String[] s = segments(r.path());
        if (s.length < 2 || !s[0].equals("api") || !s[1].equals("v1")) {
            throw Errors.notFound(null);
        }
        if (s.length == 3 && s[2].equals("configs") && r.method().equals("GET")) {
            return Front.Reply.json(configs());
        }
        int i = 2;
        if (s.length > 2 && s[2].equals(TENANT)) {
            i = 3;
        } else if (s.length > 3 && !List.of("flows", "executions", "logs", "outputs").contains(s[2])) {
            throw Errors.notFound("tenant " + s[2]);
        }
        String[] p = java.util.Arrays.copyOfRange(s, i, s.length);
        if (p.length == 0) {
            throw Errors.notFound(null);
        }
        return switch (p[0]) {
            case "flows" -> flows(r, p);
            case "executions" -> executions(r, p);
            case "logs" -> logs(r, p);
            case "outputs" -> outputs(r, p);
            default -> throw Errors.notFound(null);
        };
    }

    private Map<String, Object> configs() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("uuid", "real-kestra");
        m.put("version", version);
        m.put("edition", "OSS");
        m.put("commitId", "published-modules");
        m.put("isBasicAuthEnabled", true);
        m.put("isTaskRunEnabled", false);
        m.put("isAnonymousUsageEnabled", false);
        m.put("url", kestraUrl);
        return m;
    }

    // ---- flows ----------------------------------------------------------------------------------
    private Front.Reply flows(Front.Request r, String[] p) throws Exception {
        String m = r.method();
        if (p.length == 1 && m.equals("POST")) {
            return Front.Reply.json(createFlow(r.text()));
        }
        if (p.length == 2 && p[1].equals("validate") && m.equals("POST")) {
            return Front.Reply.json(validate(r.text()));
        }
        if (p.length == 2 && m.equals("GET")) {
            return Front.Reply.json(flowRepository.findByNamespace(TENANT, p[1]));
        }
        if (p.length == 3) {
            String ns = p[1];
            String id = p[2];
            switch (m) {
                case "GET": {
                    Optional<Integer> revision = Optional.ofNullable(r.param("revision")).map(Integer::valueOf);
                    boolean allowDeleted = "true".equals(r.param("allowDeleted"));
                    Optional<FlowWithSource> flow = flowRepository.findByIdWithSource(TENANT, ns, id, revision, allowDeleted);
                    FlowWithSource found = flow.orElseThrow(() -> Errors.notFound("Unable to find flow " + ns + "." + id));
                    return Front.Reply.json("true".equals(r.param("source")) ? found : found.toFlow());
                }
                case "PUT":
                    return Front.Reply.json(updateFlow(ns, id, r.text()));
                case "DELETE": {
                    FlowWithSource found = flowRepository.findByIdWithSource(TENANT, ns, id)
                        .orElseThrow(() -> Errors.notFound("Unable to find flow " + ns + "." + id));
                    engine.deleteFlow(found);
                    return Front.Reply.status(204);
                }
                default:
                    break;
            }
        }
        throw Errors.notFound(null);
    }

    private FlowWithSource createFlow(String source) throws Exception {
        return engine.createFlow(source);
    }

    private FlowWithSource updateFlow(String namespace, String id, String source) throws Exception {
        FlowWithSource previous = flowRepository.findByIdWithSource(TENANT, namespace, id)
            .orElseThrow(() -> Errors.notFound("Unable to find flow " + namespace + "." + id));
        return engine.updateFlow(previous, source);
    }

    private Object validate(String text) {
        List<FlowSource> sources = new ArrayList<>();
        for (String doc : DOC_SEPARATOR.split(text)) {
            if (!doc.isBlank()) {
                sources.add(new FlowSource(null, doc));
            }
        }
        return flowService.validate(TENANT, sources);
    }

    // ---- executions ---------------------------------------------------------------------------
    private Front.Reply executions(Front.Request r, String[] p) throws Exception {
        String m = r.method();
        if ((p.length == 1 || (p.length == 2 && p[1].equals("search"))) && m.equals("GET")) {
            List<QueryFilter> filters = filters(r, true);
            QueryFilter.validateQueryFilters(filters, QueryFilter.Resource.EXECUTION);
            return Front.Reply.json(paged(executionRepository.find(pageable(r), TENANT, filters)));
        }
        if (p.length >= 5 && p[1].equals("webhook")) {
            return webhook(r, p[2], p[3], p[4], p.length > 5 ? String.join("/", java.util.Arrays.copyOfRange(p, 5, p.length)) : null);
        }
        if (p.length == 2 && m.equals("GET")) {
            return Front.Reply.json(execution(p[1]));
        }
        if (p.length == 3 && p[2].equals("follow") && m.equals("GET")) {
            return followExecution(p[1]);
        }
        // Actions: 1.x executions/{id}/kill|restart, 2.x executions/{id}/actions/kill|restart only.
        String action = engine.major() >= 2
            ? (p.length == 4 && p[2].equals("actions") ? p[3] : null)
            : (p.length == 3 && (p[2].equals("kill") || p[2].equals("restart")) ? p[2] : null);
        if (action == null && p.length == 3 && m.equals("POST")) {
            return Front.Reply.json(create(r, p[1], p[2]));
        }
        if (action != null) {
            if (action.equals("kill") && m.equals("DELETE")) {
                return kill(p[1], !"false".equals(r.param("isOnKillCascade")));
            }
            if (action.equals("restart") && m.equals("POST")) {
                return Front.Reply.json(restart(p[1], Optional.ofNullable(r.param("revision")).map(Integer::valueOf).orElse(null)));
            }
        }
        throw Errors.notFound(null);
    }

    private Execution execution(String id) {
        return executionRepository.findById(TENANT, id)
            .orElseThrow(() -> Errors.notFound("Unable to find execution " + id));
    }

    /** {@code POST executions/{namespace}/{id}}: the flow's own input resolution, then the execution queue. */
    private Object create(Front.Request r, String namespace, String flowId) throws Exception {
        Optional<Integer> revision = Optional.ofNullable(r.param("revision")).map(Integer::valueOf);
        Flow flow = flowService.getFlowIfExecutableOrThrow(TENANT, namespace, flowId, revision);
        List<Label> labels = labels(r.params("labels"));
        Optional<ZonedDateTime> scheduleDate = Optional.ofNullable(r.param("scheduleDate")).map(ZonedDateTime::parse);
        Execution current = Execution.newExecution(flow, null, labels, scheduleDate);
        List<CompletedPart> parts = Multipart.parse(r.contentType(), r.body());
        Map<String, Object> inputs = flowInputOutput.readExecutionInputs(flow, current, Flux.fromIterable(parts)).block();
        // Flow checks, as Kestra's ExecutionController: BLOCK_EXECUTION refuses, FAIL_EXECUTION starts it FAILED.
        List<Check> failed = flowService.getFailedChecks(flow, inputs);
        Check.Behavior behavior = Check.resolveBehavior(failed);
        if (Check.Behavior.BLOCK_EXECUTION.equals(behavior)) {
            throw new IllegalArgumentException("Flow execution blocked: one or more condition checks evaluated to false."
                + "\nFailed checks: " + failed.stream().map(Check::getMessage).collect(Collectors.joining(", ")));
        }
        Execution withInputs = current.withInputs(inputs);
        if (Check.Behavior.FAIL_EXECUTION.equals(behavior)) {
            withInputs = withInputs.withState(State.Type.FAILED);
        }
        engine.start(withInputs);
        Execution answer = withInputs;
        if ("true".equals(r.param("wait")) && !withInputs.getState().isFailed()) {
            answer = waitTerminated(withInputs.getId(), Duration.ofHours(1));
        }
        return withUrl(answer);
    }

    /** Waiting for {@code ?wait=true}: poll the repository until the engine reports a terminated state. */
    private Execution waitTerminated(String id, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<Execution> found = executionRepository.findById(TENANT, id);
            if (found.isPresent() && found.get().getState().isTerminated()) {
                return found.get();
            }
            Thread.sleep(50);
        }
        return execution(id);
    }

    private Map<String, Object> withUrl(Execution execution) {
        Map<String, Object> body = json.convertValue(execution, JacksonMapper.MAP_TYPE_REFERENCE);
        body.put("url", kestraUrl + "/ui/" + TENANT + "/executions/" + execution.getNamespace() + "/"
            + execution.getFlowId() + "/" + execution.getId());
        return body;
    }

    private Front.Reply kill(String id, boolean cascade) throws Exception {
        Execution execution = execution(id);
        // As Kestra's ExecutionController: an ended execution is refused (409) only without
        // cascade; with the default cascade the kill event is emitted anyway (a no-op).
        if (execution.getState().isTerminated() && !cascade) {
            throw new IllegalStateException("Execution is already finished, can't kill it");
        }
        return engine.kill(execution, cascade);
    }

    private Execution restart(String id, Integer revision) throws Exception {
        return engine.restart(execution(id), revision);
    }

    private Front.Reply webhook(Front.Request r, String namespace, String flowId, String key, String path) throws Exception {
        Flow flow = flowRepository.findById(TENANT, namespace, flowId)
            .orElseThrow(() -> Errors.notFound("Flow not found"));
        if (flow.isDisabled()) {
            throw new IllegalStateException("Cannot execute a disabled flow");
        }
        AbstractWebhookTrigger trigger = null;
        for (AbstractTrigger t : Optional.ofNullable(flow.getTriggers()).orElse(List.of())) {
            if (t instanceof AbstractWebhookTrigger w && !Boolean.TRUE.equals(w.isDisabled())) {
                String rendered = webhookService.runContext(flow, w).render(w.getKey()).trim();
                if (rendered.equals(key)) {
                    trigger = w;
                    break;
                }
            }
        }
        if (trigger == null) {
            throw Errors.notFound("Webhook not found");
        }
        Map<String, List<String>> headers = new LinkedHashMap<>(r.headers());
        HttpRequest request = HttpRequest.builder()
            .method(r.method())
            .uri(URI.create(kestraUrl + r.rawUri()))
            .body(HttpRequest.StringRequestBody.builder().content(r.text()).build())
            .headers(java.net.http.HttpHeaders.of(headers, (a, b) -> true))
            .build();
        io.kestra.core.http.HttpResponse<?> response = engine.webhook(flow, trigger, request, path);
        if (response == null) {
            return Front.Reply.status(204);
        }
        int code = response.getStatus().getCode();
        Object body = response.getBody();
        String type = response.getHeaders() == null ? null : response.getHeaders().firstValue("Content-Type").orElse(null);
        return new Front.Reply(code, body, type != null ? type : "application/json");
    }

    // ---- logs ---------------------------------------------------------------------------------
    private Front.Reply logs(Front.Request r, String[] p) {
        if (p.length < 2 || p.length > 3 || !r.method().equals("GET")) {
            throw Errors.notFound(null);
        }
        String id = p[1];
        // 1.x: minLevel/taskId/taskRunId/attempt; 2.x: filters[level][GREATER_THAN_OR_EQUAL_TO],
        // filters[taskId][EQUALS]... (checked by Kestra's own QueryFilter validation).
        if (engine.major() >= 2) {
            QueryFilter.validateQueryFilters(filters(r, false), QueryFilter.Resource.LOG);
        }
        Level level = Optional.ofNullable(r.param("minLevel")).or(() -> Optional.ofNullable(filterValue(r, "level")))
            .map(v -> Level.valueOf(v.toUpperCase(Locale.ROOT))).orElse(null);
        String taskId = Optional.ofNullable(r.param("taskId")).orElse(filterValue(r, "taskId"));
        String taskRunId = Optional.ofNullable(r.param("taskRunId")).orElse(filterValue(r, "taskRunId"));
        Integer attempt = Optional.ofNullable(r.param("attempt")).map(Integer::valueOf).orElse(null);
        if (p.length == 3 && p[2].equals("follow")) {
            return followLogs(id, level);
        }
        List<LogEntry> entries = engine.logs(id, level, taskId, taskRunId, attempt);
        if (p.length == 3 && p[2].equals("download")) {
            // as Kestra's ExecutionLogService.getExecutionLogsAsStream: one pretty line per entry
            return new Front.Reply(200, entries.stream().map(LogEntry::toPrettyString).collect(Collectors.joining("\n")),
                "text/plain");
        }
        if (p.length == 3) {
            throw Errors.notFound(null);
        }
        return Front.Reply.json(entries);
    }

    // ---- server-sent events -------------------------------------------------------------------
    /**
     * {@code GET executions/{id}/follow}: the execution now, then every update Kestra's
     * ExecutionStreamingService dispatches, until that service says following can stop.
     */
    private Front.Reply followExecution(String id) {
        Execution execution = execution(id);
        Flow flow = flowRepository.findByExecution(execution);
        String subscriber = java.util.UUID.randomUUID().toString();
        Flux<Event<?>> events = Flux.<Event<?>>create(sink -> {
            sink.next(Event.of(execution).id("start"));
            if (streaming.isStopFollow(flow, execution)) {
                sink.complete();
                return;
            }
            streaming.registerSubscriber(id, subscriber, (FluxSink) sink, flow);
            // the execution may have ended between the read and the registration
            executionRepository.findById(TENANT, id).filter(e -> streaming.isStopFollow(flow, e)).ifPresent(e -> {
                sink.next(Event.of(e).id("end"));
                sink.complete();
            });
        }).doFinally(signal -> streaming.unregisterSubscriber(id, subscriber));
        return sse(events);
    }

    /**
     * {@code GET logs/{id}/follow}: the stored entries, then new ones from Kestra's
     * LogStreamingService; the stream ends once the execution is terminated (our choice: Kestra
     * keeps it open, a test client needs an end).
     */
    private Front.Reply followLogs(String id, Level level) {
        Execution execution = execution(id);
        Flow flow = flowRepository.findByExecution(execution);
        Flux<Event<?>> events = Flux.<Event<?>>create(sink -> {
            Runnable unsubscribe = engine.subscribeLogs(id, level, sink);
            for (LogEntry entry : engine.logs(id, level, null, null, null)) {
                sink.next(Event.of(entry));
            }
            Thread watcher = Thread.ofVirtual().start(() -> {
                try {
                    while (!sink.isCancelled()) {
                        Optional<Execution> now = executionRepository.findById(TENANT, id);
                        if (now.isEmpty() || streaming.isStopFollow(flow, now.get())) {
                            Thread.sleep(500);  // let the last entries through the log queue
                            sink.complete();
                            return;
                        }
                        Thread.sleep(200);
                    }
                } catch (InterruptedException ignored) {
                    sink.complete();
                }
            });
            sink.onDispose(() -> {
                unsubscribe.run();
                watcher.interrupt();
            });
        });
        return sse(events);
    }

    private Front.Reply sse(Flux<Event<?>> events) {
        return new Front.Reply(200, (Front.Stream) out -> {
            for (Event<?> event : events.doOnError(e -> System.err.println("real-kestra: event stream failed: " + e)).toIterable()) {
                StringBuilder frame = new StringBuilder();
                if (event.getId() != null) {
                    frame.append("id: ").append(event.getId()).append('\n');
                }
                frame.append("data: ").append(json.writeValueAsString(event.getData())).append("\n\n");
                out.write(frame.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                out.flush();
            }
        }, "text/event-stream");
    }

    // ---- outputs (2.x) --------------------------------------------------------------------------
    private Front.Reply outputs(Front.Request r, String[] p) throws Exception {
        if (!r.method().equals("GET") || p.length < 2 || p.length > 3) {
            throw Errors.notFound(null);
        }
        Execution execution = execution(p[1]);
        return Front.Reply.json(p.length == 2 ? engine.outputs(execution) : engine.taskRunOutputs(execution, p[2]));
    }

    // ---- helpers ------------------------------------------------------------------------------
    private static String[] segments(String path) {
        return java.util.Arrays.stream(path.split("/")).filter(x -> !x.isEmpty()).toArray(String[]::new);
    }

    private static List<Label> labels(List<String> raw) {
        List<Label> labels = new ArrayList<>();
        for (String item : raw) {
            int colon = item.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException("Invalid label '" + item + "', it must be 'key:value'");
            }
            labels.add(new Label(item.substring(0, colon), item.substring(colon + 1)));
        }
        for (Label label : labels) {
            if (label.key().startsWith("system.") && !label.key().equals("system.correlationId")) {
                throw new IllegalArgumentException("System labels can only be set by Kestra itself, offending label: "
                    + label.key() + "=" + label.value());
            }
        }
        return labels;
    }

    private static String filterValue(Front.Request r, String field) {
        for (Map.Entry<String, List<String>> e : r.query().entrySet()) {
            Matcher m = FILTER.matcher(e.getKey());
            if (m.matches() && m.group(1).equals(field) && !e.getValue().isEmpty()) {
                return e.getValue().get(0);
            }
        }
        return null;
    }

    /** {@code filters[field][OP]=value} (and the legacy namespace/flowId/state/labels params) -> QueryFilters. */
    private static List<QueryFilter> filters(Front.Request r, boolean legacy) {
        List<QueryFilter> filters = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : r.query().entrySet()) {
            Matcher m = FILTER.matcher(e.getKey());
            if (m.matches()) {
                QueryFilter.Field field = QueryFilter.Field.fromString(m.group(1));
                QueryFilter.Op op = QueryFilter.Op.valueOf(m.group(2));
                Object value = e.getValue().size() == 1 ? e.getValue().get(0) : e.getValue();
                if (field == QueryFilter.Field.LABELS && value instanceof String s && s.contains(":")) {
                    value = Map.of(s.substring(0, s.indexOf(':')), s.substring(s.indexOf(':') + 1));
                }
                filters.add(QueryFilter.builder().field(field).operation(op).value(value).build());
            }
        }
        if (!legacy) {
            return filters;
        }
        if (r.param("namespace") != null) {
            filters.add(QueryFilter.builder().field(QueryFilter.Field.NAMESPACE).operation(QueryFilter.Op.EQUALS).value(r.param("namespace")).build());
        }
        if (r.param("flowId") != null) {
            filters.add(QueryFilter.builder().field(QueryFilter.Field.FLOW_ID).operation(QueryFilter.Op.EQUALS).value(r.param("flowId")).build());
        }
        if (!r.params("state").isEmpty()) {
            filters.add(QueryFilter.builder().field(QueryFilter.Field.STATE).operation(QueryFilter.Op.IN).value(r.params("state")).build());
        }
        return filters;
    }

    /** Kestra's repositories count pages from 1 (offset = page * size - size). */
    private Pageable pageable(Front.Request r) {
        int page = Optional.ofNullable(r.param("page")).map(Integer::parseInt).orElse(1);
        int size = Optional.ofNullable(r.param("size")).map(Integer::parseInt).orElse(10);
        if (page < 1 || size < 1) {
            throw new IllegalArgumentException("page and size must be >= 1");
        }
        List<Sort.Order> orders = new ArrayList<>();
        for (String sort : r.params("sort")) {
            String[] parts = sort.split(":");
            String property = executionRepository.sortMapping().apply(parts[0]);
            orders.add(parts.length > 1 && parts[1].equalsIgnoreCase("desc") ? Sort.Order.desc(property) : Sort.Order.asc(property));
        }
        return Pageable.from(page, size, orders.isEmpty() ? Sort.unsorted() : Sort.of(orders));
    }

    private static Map<String, Object> paged(ArrayListTotal<?> results) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("results", results);
        m.put("total", results.getTotal());
        return m;
    }
}
