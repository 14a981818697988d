package io.kestra.plugin.scripts.shell;

import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import io.kestra.plugin.scripts.exec.scripts.runners.CommandsWrapper;
import jakarta.validation.constraints.NotNull;

import java.util.List;
import java.util.Objects;

/**
 * SHIM (ours, not Kestra's): stands in for kestra-io/plugin-scripts' shell Script because
 * io.kestra.plugin:plugin-script-shell is not served by the registry here. The body is rendered
 * once and run as the single command, through Kestra's published AbstractExecScript / CommandsWrapper.
 */
@Plugin
public class Script extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    protected Property<String> containerImage = Property.ofValue("ubuntu");

    @NotNull
    protected Property<String> script;

    public Script() {
    }

    @Override
    public Property<String> getContainerImage() {
        return containerImage;
    }

    public Property<String> getScript() {
        return script;
    }

    @Override
    public ScriptOutput run(RunContext runContext) throws Exception {
        CommandsWrapper wrapper = this.commands(runContext);
        return wrapper
            .withInterpreter(this.interpreter)
            .withBeforeCommands(this.beforeCommands)
            .withBeforeCommandsWithOptions(true)
            .withCommands(Property.ofValue(List.of(wrapper.render(runContext, this.script))))
            .withTargetOS(runContext.render(this.targetOS).as(TargetOS.class).orElse(null))
            .run();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Script other && super.equals(o)
            && Objects.equals(containerImage, other.containerImage) && Objects.equals(script, other.script);
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), containerImage, script);
    }
}
