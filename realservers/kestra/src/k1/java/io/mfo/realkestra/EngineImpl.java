package io.mfo.realkestra;

import io.kestra.core.http.HttpRequest;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.ExecutionKilled;
import io.kestra.core.models.executions.ExecutionKilledExecution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.flows.GenericFlow;
import io.kestra.core.queues.QueueFactoryInterface;
import io.kestra.core.queues.QueueInterface;
import io.kestra.core.repositories.FlowRepositoryInterface;
import io.kestra.core.repositories.LogRepositoryInterface;
import io.kestra.core.runners.ExecutorInterface;
import io.kestra.core.runners.Indexer;
import io.kestra.core.runners.Scheduler;
import io.kestra.core.server.Service;
import io.kestra.core.services.ExecutionService;
import io.kestra.core.services.FlowService;
import io.kestra.core.services.PluginDefaultService;
import io.kestra.core.services.WebhookService;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;
import io.kestra.plugin.core.trigger.WebhookContext;
import io.kestra.worker.DefaultWorker;
import io.micronaut.context.ApplicationContext;
import io.micronaut.inject.qualifiers.Qualifiers;
import org.slf4j.event.Level;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;

/** Kestra 1.3: executions and kills go straight onto the execution / kill queues. */
@SuppressWarnings({"unchecked", "rawtypes"})
final class EngineImpl implements Engine {
    private final ApplicationContext context;
    private final FlowService flowService;
    private final FlowRepositoryInterface flowRepository;
    private final PluginDefaultService pluginDefaultService;
    private final LogRepositoryInterface logRepository;
    private final ExecutionService executionService;
    private final WebhookService webhookService;
    private final QueueInterface<Execution> executionQueue;
    private final QueueInterface<ExecutionKilled> killQueue;

    EngineImpl(ApplicationContext context) {
        this.context = context;
        this.flowService = context.getBean(FlowService.class);
        this.flowRepository = context.getBean(FlowRepositoryInterface.class);
        this.pluginDefaultService = context.getBean(PluginDefaultService.class);
        this.logRepository = context.getBean(LogRepositoryInterface.class);
        this.executionService = context.getBean(ExecutionService.class);
        this.webhookService = context.getBean(WebhookService.class);
        this.executionQueue = context.getBean(QueueInterface.class, Qualifiers.byName(QueueFactoryInterface.EXECUTION_NAMED));
        this.killQueue = context.getBean(QueueInterface.class, Qualifiers.byName(QueueFactoryInterface.KILL_NAMED));
    }

    @Override
    public int major() {
        return 1;
    }

    @Override
    public String violationPath(jakarta.validation.ConstraintViolation<?> violation) {
        return String.valueOf(violation.getPropertyPath());
    }

    @Override
    public List<Service> startServices(ExecutorService pool, int workerThreads) {
        List<Service> services = new ArrayList<>();
        ExecutorInterface executor = context.getBean(ExecutorInterface.class);
        services.add(executor);
        pool.execute(executor);

        DefaultWorker worker = context.createBean(DefaultWorker.class, UUID.randomUUID().toString(), workerThreads, null);
        context.registerSingleton(worker);
        services.add(worker);
        pool.execute(worker);

        Scheduler scheduler = context.getBean(Scheduler.class);
        services.add(scheduler);
        pool.execute(scheduler);

        Indexer indexer = context.getBean(Indexer.class);
        services.add(indexer);
        pool.execute(indexer);
        return services;
    }

    @Override
    public FlowWithSource createFlow(String source) throws Exception {
        return flowService.create(GenericFlow.fromYaml(Api.TENANT, source), true);
    }

    @Override
    public FlowWithSource updateFlow(FlowWithSource previous, String source) throws Exception {
        // As the 1.3 FlowController: version defaults injected, subflows checked, then the
        // repository validates with defaults and checks the update (namespace and id cannot change).
        GenericFlow flow = GenericFlow.fromYaml(Api.TENANT, source);
        flowService.checkValidSubflows(pluginDefaultService.injectVersionDefaults(flow, false), Api.TENANT);
        return flowRepository.update(flow, previous);
    }

    @Override
    public FlowWithSource deleteFlow(FlowWithSource flow) {
        return flowService.delete(flow);
    }

    @Override
    public List<LogEntry> logs(String id, Level level, String taskId, String taskRunId, Integer attempt) {
        if (taskRunId != null && attempt != null) {
            return logRepository.findByExecutionIdAndTaskRunIdAndAttempt(Api.TENANT, id, taskRunId, level, attempt);
        }
        if (taskRunId != null) {
            return logRepository.findByExecutionIdAndTaskRunId(Api.TENANT, id, taskRunId, level);
        }
        if (taskId != null) {
            return logRepository.findByExecutionIdAndTaskId(Api.TENANT, id, taskId, level);
        }
        return logRepository.findByExecutionId(Api.TENANT, id, level);
    }

    @Override
    public Runnable subscribeLogs(String executionId, Level minLevel, reactor.core.publisher.FluxSink<io.micronaut.http.sse.Event<?>> sink) {
        List<String> levels = java.util.Arrays.stream(Level.values())
            .filter(l -> minLevel == null || l.toInt() >= minLevel.toInt()).map(Level::name).toList();
        String subscriber = UUID.randomUUID().toString();
        context.getBean(io.kestra.core.services.LogStreamingService.class)
            .registerSubscriber(executionId, subscriber, (reactor.core.publisher.FluxSink) sink, levels);
        return () -> context.getBean(io.kestra.core.services.LogStreamingService.class).unregisterSubscriber(executionId, subscriber);
    }

    @Override
    public void start(Execution execution) throws Exception {
        executionQueue.emit(execution);
    }

    @Override
    public Front.Reply kill(Execution execution, boolean cascade) throws Exception {
        killQueue.emit(ExecutionKilledExecution.builder()
            .state(ExecutionKilled.State.REQUESTED)
            .executionId(execution.getId())
            .isOnKillCascade(cascade)
            .tenantId(Api.TENANT)
            .build());
        return new Front.Reply(202, null, null);
    }

    @Override
    public Execution restart(Execution execution, Integer revision) throws Exception {
        Execution restarted = executionService.restart(execution, revision);
        executionQueue.emit(restarted);
        return restarted;
    }

    @Override
    public List<Map<String, Object>> outputs(Execution execution) {
        throw Errors.notFound(null);  // 1.x has no outputs endpoint: outputs are inline in task runs
    }

    @Override
    public Map<String, Object> taskRunOutputs(Execution execution, String taskRunId) {
        throw Errors.notFound(null);
    }

    @Override
    public io.kestra.core.http.HttpResponse<?> webhook(Flow flow, AbstractWebhookTrigger trigger, HttpRequest request, String path) throws Exception {
        return trigger.evaluate(WebhookContext.builder()
            .request(request).path(path).flow(flow).trigger(trigger).webhookService(webhookService).build()).block();
    }
}
