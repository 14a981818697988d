package io.mfo.realkestra;

import io.kestra.core.async.AsyncOperationProcessedEvent;
import io.kestra.core.async.AsyncOperationsConfiguration;
import io.kestra.core.executor.command.Create;
import io.kestra.core.executor.command.ExecutionCommand;
import io.kestra.core.executor.command.Restart;
import io.kestra.core.http.HttpRequest;
import io.kestra.core.models.executions.Execution;
import io.kestra.core.models.executions.ExecutionId;
import io.kestra.core.models.executions.ExecutionKilled;
import io.kestra.core.models.executions.ExecutionKilledExecution;
import io.kestra.core.models.executions.LogEntry;
import io.kestra.core.models.executions.TaskOutput;
import io.kestra.core.models.executions.TaskRun;
import io.kestra.core.models.flows.Flow;
import io.kestra.core.models.flows.FlowWithSource;
import io.kestra.core.models.flows.GenericFlow;
import io.kestra.core.queues.BroadcastQueueInterface;
import io.kestra.core.queues.DispatchQueueInterface;
import io.kestra.core.repositories.ExecutionRepositoryInterface;
import io.kestra.core.repositories.LogDataStoreInterface;
import io.kestra.core.repositories.TaskOutputRepositoryInterface;
import io.kestra.core.runners.Executor;
import io.kestra.core.runners.Indexer;
import io.kestra.core.runners.Scheduler;
import io.kestra.core.runners.Worker;
import io.kestra.core.server.Service;
import io.kestra.core.services.AsyncOperationWaiter;
import io.kestra.core.services.FlowService;
import io.kestra.core.services.TaskOutputService;
import io.kestra.core.services.WebhookService;
import io.kestra.core.worker.Controller;
import io.kestra.plugin.core.trigger.AbstractWebhookTrigger;
import io.kestra.plugin.core.trigger.WebhookContext;
import io.micronaut.context.ApplicationContext;
import io.micronaut.core.type.Argument;
import org.slf4j.event.Level;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;

/**
 * Kestra 2.0: executions are created and restarted through execution commands (Create, Restart)
 * whose processing the executor confirms (AsyncOperationWaiter), kills go on the kill broadcast
 * queue, task outputs live outside the execution (TaskOutputService).
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class EngineImpl implements Engine {
    private final ApplicationContext context;
    private final FlowService flowService;
    private final LogDataStoreInterface logs;
    private final ExecutionRepositoryInterface executionRepository;
    private final WebhookService webhookService;
    private final TaskOutputRepositoryInterface taskOutputRepository;
    private final TaskOutputService taskOutputService;
    private final AsyncOperationWaiter waiter;
    private final Duration waitTimeout;
    private final DispatchQueueInterface<ExecutionCommand> commandQueue;
    private final BroadcastQueueInterface<ExecutionKilled> killQueue;

    EngineImpl(ApplicationContext context) {
        this.context = context;
        this.flowService = context.getBean(FlowService.class);
        this.logs = context.getBean(LogDataStoreInterface.class);
        this.executionRepository = context.getBean(ExecutionRepositoryInterface.class);
        this.webhookService = context.getBean(WebhookService.class);
        this.taskOutputRepository = context.getBean(TaskOutputRepositoryInterface.class);
        this.taskOutputService = context.getBean(TaskOutputService.class);
        this.waiter = context.getBean(AsyncOperationWaiter.class);
        this.waitTimeout = context.getBean(AsyncOperationsConfiguration.class).waitTimeout();
        this.commandQueue = (DispatchQueueInterface<ExecutionCommand>) context.getBean(
            Argument.of(DispatchQueueInterface.class, ExecutionCommand.class));
        this.killQueue = (BroadcastQueueInterface<ExecutionKilled>) context.getBean(
            Argument.of(BroadcastQueueInterface.class, ExecutionKilled.class));
    }

    @Override
    public int major() {
        return 2;
    }

    @Override
    public String violationPath(jakarta.validation.ConstraintViolation<?> violation) {
        return io.kestra.core.models.validations.ViolationPaths.toFriendlyPath(violation);
    }

    @Override
    public List<Service> startServices(ExecutorService pool, int workerThreads) {
        List<Service> services = new ArrayList<>();
        Executor executor = context.getBean(Executor.class);
        services.add(executor);
        pool.execute(executor);

        Controller controller = context.getBean(Controller.class);
        services.add(controller);
        pool.execute(controller::start);

        Worker worker = context.getBean(Worker.class);
        services.add(worker);
        pool.execute(() -> worker.start(workerThreads));

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
        return flowService.create(GenericFlow.fromYaml(Api.TENANT, source));
    }

    @Override
    public FlowWithSource updateFlow(FlowWithSource previous, String source) throws Exception {
        return flowService.update(GenericFlow.fromYaml(Api.TENANT, source), previous);
    }

    @Override
    public FlowWithSource deleteFlow(FlowWithSource flow) {
        return flowService.delete(flow);
    }

    @Override
    public List<LogEntry> logs(String id, Level level, String taskId, String taskRunId, Integer attempt) {
        if (taskRunId != null && attempt != null) {
            return logs.findByExecutionIdAndTaskRunIdAndAttempt(Api.TENANT, id, taskRunId, level, attempt);
        }
        if (taskRunId != null) {
            return logs.findByExecutionIdAndTaskRunId(Api.TENANT, id, taskRunId, level);
        }
        if (taskId != null) {
            return logs.findByExecutionIdAndTaskId(Api.TENANT, id, taskId, level);
        }
        return logs.findByExecutionId(Api.TENANT, id, level);
    }

    /**
     * Kestra 2.0's LogStreamingService needs a FollowLogEventMatcher bean that only the
     * unpublished webserver provides, so new entries are read from the log store instead.
     */
    @Override
    public Runnable subscribeLogs(String executionId, Level minLevel, reactor.core.publisher.FluxSink<io.micronaut.http.sse.Event<?>> sink) {
        int seen = logs(executionId, minLevel, null, null, null).size();
        Thread poller = Thread.ofVirtual().start(() -> {
            int emitted = seen;
            try {
                while (!sink.isCancelled()) {
                    List<LogEntry> entries = logs(executionId, minLevel, null, null, null);
                    for (int i = emitted; i < entries.size(); i++) {
                        sink.next(io.micronaut.http.sse.Event.of(entries.get(i)).id("progress"));
                    }
                    emitted = Math.max(emitted, entries.size());
                    Thread.sleep(200);
                }
            } catch (InterruptedException ignored) {
                // unsubscribed
            }
        });
        return poller::interrupt;
    }

    @Override
    public void start(Execution execution) throws Exception {
        Create command = Create.of(new ExecutionId(execution.getTenantId(), execution.getNamespace(),
                execution.getFlowId(), execution.getId(), execution.getFlowRevision()))
            .withKind(execution.getKind())
            .withTrigger(execution.getTrigger())
            .withLabels(execution.getLabels())
            .withInputs(execution.getInputs())
            .withScheduleDate(execution.getScheduleDate())
            .withStateType(execution.getState().getCurrent() == io.kestra.core.models.flows.State.Type.CREATED
                ? null : execution.getState().getCurrent());
        submit(execution.getId(), operationId -> commandQueue.emit(command.withOperationId(operationId)));
    }

    @Override
    public Front.Reply kill(Execution execution, boolean cascade) throws Exception {
        killQueue.emit(ExecutionKilledExecution.builder()
            .state(ExecutionKilled.State.REQUESTED)
            .executionId(execution.getId())
            .isOnKillCascade(cascade)
            .tenantId(Api.TENANT)
            .build());
        return new Front.Reply(200, execution, "text/json");
    }

    @Override
    public Execution restart(Execution execution, Integer revision) throws Exception {
        submit(execution.getId(), operationId -> commandQueue.emit(Restart.from(execution, revision).withOperationId(operationId)));
        return executionRepository.findById(Api.TENANT, execution.getId()).orElse(execution);
    }

    /** Emit a command and wait for the executor's confirmation; a refused command is a 409 with its reason. */
    private void submit(String executionId, Emitter emitter) {
        AsyncOperationProcessedEvent event = waiter.submit(executionId, operationId -> {
            try {
                emitter.emit(operationId);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        }, waitTimeout).block(waitTimeout.plusSeconds(5));
        if (event != null && event.outcome() == AsyncOperationProcessedEvent.Outcome.FAILED) {
            throw new IllegalStateException(event.error());
        }
    }

    private interface Emitter {
        void emit(String operationId) throws Exception;
    }

    @Override
    public List<Map<String, Object>> outputs(Execution execution) throws Exception {
        List<Map<String, Object>> infos = new ArrayList<>();
        for (TaskOutput output : taskOutputRepository.findByExecution(execution)) {
            TaskRun run = findTaskRun(execution, output.taskRunId()).orElse(null);
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("taskId", run != null ? run.getTaskId() : null);
            info.put("taskRunId", output.taskRunId());
            if (run != null && run.getValue() != null) {
                info.put("value", run.getValue());
            }
            if (run != null && run.getIteration() != null) {
                info.put("iteration", run.getIteration());
            }
            info.put("inline", output.uri() == null);
            infos.add(info);
        }
        return infos;
    }

    @Override
    public Map<String, Object> taskRunOutputs(Execution execution, String taskRunId) throws Exception {
        TaskRun run = findTaskRun(execution, taskRunId)
            .orElseThrow(() -> Errors.notFound("Unable to find task run " + taskRunId));
        Map<String, Object> outputs = taskOutputService.getOutputs(run);
        return outputs == null ? Map.of() : outputs;
    }

    private static Optional<TaskRun> findTaskRun(Execution execution, String taskRunId) {
        return Optional.ofNullable(execution.getTaskRunList()).orElse(List.of()).stream()
            .filter(t -> t.getId().equals(taskRunId)).findFirst();
    }

    @Override
    public io.kestra.core.http.HttpResponse<?> webhook(Flow flow, AbstractWebhookTrigger trigger, HttpRequest request, String path) throws Exception {
        return trigger.evaluate(WebhookContext.builder()
            .request(request).path(path).flow(flow).trigger(trigger).webhookService(webhookService).build()).block();
    }
}
