package io.kestra.plugin.scripts.shell;

import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import jakarta.validation.constraints.NotNull;

import java.util.List;
import java.util.Objects;

/**
 * SHIM (ours, not Kestra's): stands in for kestra-io/plugin-scripts' shell Commands because
 * io.kestra.plugin:plugin-script-shell is not served by the registry here. Only wires its
 * properties into Kestra's published AbstractExecScript / CommandsWrapper, which do the work.
 */
@Plugin
public class Commands extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    protected Property<String> containerImage = Property.ofValue("ubuntu");

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
