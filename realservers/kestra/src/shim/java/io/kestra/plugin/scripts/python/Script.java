package io.kestra.plugin.scripts.python;

import io.kestra.core.models.annotations.Plugin;
import io.kestra.core.models.property.Property;
import io.kestra.core.models.tasks.RunnableTask;
import io.kestra.core.models.tasks.runners.TargetOS;
import io.kestra.core.runners.FilesService;
import io.kestra.core.runners.RunContext;
import io.kestra.plugin.core.runner.Process;
import io.kestra.plugin.scripts.exec.AbstractExecScript;
import io.kestra.plugin.scripts.exec.scripts.models.ScriptOutput;
import io.kestra.plugin.scripts.exec.scripts.runners.CommandsWrapper;
import jakarta.validation.constraints.NotNull;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * SHIM (ours, not Kestra's): stands in for kestra-io/plugin-scripts' python Script because
 * io.kestra.plugin:plugin-script-python is not served by the registry here. As the plugin does:
 * the rendered body (after `true/false/null` aliases) becomes a temporary `.py` input file of
 * Kestra's CommandsWrapper, run by python3 on the Process runner (`python` in a container), or by
 * an activated venv's python. No dependency management.
 */
@Plugin
public class Script extends AbstractExecScript implements RunnableTask<ScriptOutput> {
    protected Property<String> containerImage = Property.ofValue("python:3.13-slim");

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
        TargetOS os = runContext.render(this.targetOS).as(TargetOS.class).orElse(null);
        Map<String, String> files = FilesService.inputFiles(runContext,
            wrapper.getTaskRunner().additionalVars(runContext, wrapper), this.getInputFiles());
        Path file = runContext.workingDir().path().relativize(runContext.workingDir().createTempFile(".py"));
        files.put(file.toString(), "true = True\nfalse = False\nnull = None\n" + wrapper.render(runContext, this.script));
        String path = wrapper.getTaskRunner().toAbsolutePath(runContext, wrapper, file.toString(), os);
        String python = wrapper.getTaskRunner() instanceof Process ? "python3" : "python";
        String run = "if [ -n \"$VIRTUAL_ENV\" ]; then \"$VIRTUAL_ENV/bin/python\" \"" + path + "\"; else \""
            + python + "\" \"" + path + "\"; fi";
        return wrapper.withInputFiles(files)
            .addEnv(Commands.PYTHON_ENV)
            .withInterpreter(this.interpreter)
            .withBeforeCommands(this.beforeCommands)
            .withBeforeCommandsWithOptions(true)
            .withCommands(Property.ofValue(List.of(run)))
            .withTargetOS(os)
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
