package io.mfo.realkestra;

import io.kestra.core.http.HttpRequest;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.server.Service;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;
import org.slf4j.event.Level;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;

/**
 * The few engine calls whose Java API differs between Kestra 1.3 and 2.0 (src/k1, src/k2 hold
 * one implementation each, {@code EngineImpl}); everything else is called directly by {@link Api}.
 */
interface Engine {
    int major();

    /** The {@code path} Kestra's error body gives a constraint violation. */
    String violationPath(jakarta.validation.ConstraintViolation<?> violation);

    /** Start executor, worker(s), scheduler and indexer on the pool, as Kestra's standalone server does. */
    List<Service> startServices(ExecutorService pool, int workerThreads);

    FlowWithSource createFlow(String source) throws Exception;

    FlowWithSource updateFlow(FlowWithSource previous, String source) throws Exception;

    FlowWithSource deleteFlow(FlowWithSource flow) throws Exception;

    List<LogEntry> logs(String executionId, Level minLevel, String taskId, String taskRunId, Integer attempt);

    /**
     * Register {@code sink} with Kestra's log streaming service for new log entries of the
     * execution at or above {@code minLevel}; returns the unregistration.
     */
    Runnable subscribeLogs(String executionId, Level minLevel, reactor.core.publisher.FluxSink<io.micronaut.http.sse.Event<?>> sink);

    /** Hand a new execution (inputs resolved) to the executor. */
    void start(Execution execution) throws Exception;

    /** Request a kill; the reply is the version's (1.x 202, 2.x 200 with the execution). */
    Front.Reply kill(Execution execution, boolean cascade) throws Exception;

    Execution restart(Execution execution, Integer revision) throws Exception;

    /** 2.x {@code GET outputs/{executionId}}: task runs with stored outputs. */
    List<Map<String, Object>> outputs(Execution execution) throws Exception;

    /** 2.x {@code GET outputs/{executionId}/{taskRunId}}. */
    Map<String, Object> taskRunOutputs(Execution execution, String taskRunId) throws Exception;

    /** Evaluate a webhook trigger (the trigger's own code starts the execution). */
    io.kestra.core.http.HttpResponse<?> webhook(Flow flow, AbstractWebhookTrigger trigger, HttpRequest request, String path) throws Exception;
}
