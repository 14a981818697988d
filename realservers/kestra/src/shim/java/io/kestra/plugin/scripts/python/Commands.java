package io.kestra.plugin.scripts.python;

import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import jakarta.validation.constraints.NotNull;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * SHIM (ours, not Kestra's): stands in for kestra-io/plugin-scripts' python Commands because
 * io.kestra.plugin:plugin-script-python is not served by the registry here. The commands run as
 * given, with the plugin's three Python environment variables; no dependency management
 * (`dependencies`, `pythonVersion`, `packageManager`... are not properties of this shim).
 */
@Plugin
public class Commands extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    static final Map<String, String> PYTHON_ENV = Map.of(
        "PYTHONUNBUFFERED", "true", "PIP_ROOT_USER_ACTION", "ignore", "PIP_DISABLE_PIP_VERSION_CHECK", "1");

    protected Property<String> containerImage = Property.ofValue("python:3.13-slim");

    @NotNull
    protected Property<List<String>> commands;

    public Commands() {
    }

    @Override
    public Property<String> getContainerImage() {
        return containerImage;
    }

    public Property<List<String>> getCommands() {
        return commands;
    }

    @Override
    public ScriptOutput run(RunContext runContext) throws Exception {
        return this.commands(runContext)
            .addEnv(PYTHON_ENV)
            .withInterpreter(this.interpreter)
            .withBeforeCommands(this.beforeCommands)
            .withBeforeCommandsWithOptions(true)
            .withCommands(this.commands)
            .withTargetOS(runContext.render(this.targetOS).as(TargetOS.class).orElse(null))
            .run();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Commands other && super.equals(o)
            && Objects.equals(containerImage, other.containerImage) && Objects.equals(commands, other.commands);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), containerImage, commands);
    }
}
