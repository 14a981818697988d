package io.mfo.realkestra;

import io.kestra.core.exceptions.ConflictException;
import io.kestra.core.exceptions.FlowProcessingException;
import io.kestra.core.exceptions.InputOutputValidationException;
import io.kestra.core.exceptions.InvalidException;
import io.kestra.core.exceptions.NotFoundException;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.Function;

/**
 * Exceptions raised by the engine -> the status and error body Kestra's webserver gives them.
 * Statuses follow its global error handler (read in the 1.3.25 webserver source: constraint
 * violations, invalid inputs and illegal arguments 422, invalid query filters 400, conflicts and
 * illegal state 409, missing elements 404, anything else 500).
 * Bodies: 1.x {@code {message, _links.self, _embedded.errors[{message, path}]}} (Micronaut
 * JsonError); 2.x RFC 9457 problem documents ({@code application/problem+json} with
 * {@code type, title, status, detail, errors[{message, path}]}, as the published
 * io.kestra:tests:2.0.0 {@code Problems} assertions describe). The 2.x problem-type URIs live in
 * the unpublished webserver, so {@code type} is {@code about:blank}.
 */
final class Errors {
    private static volatile int major = 1;
    private static volatile Function<ConstraintViolation<?>, String> paths = v -> String.valueOf(v.getPropertyPath());

    private Errors() {
    }

    static void configure(int engineMajor, Function<ConstraintViolation<?>, String> violationPath) {
        major = engineMajor;
        paths = violationPath;
    }

    /** An HTTP status raised by the front itself (unknown route, missing flow...). */
    static final class Status extends RuntimeException {
        final int status;
        final String reason;

        Status(int status, String reason, String message) {
            super(message);
            this.status = status;
            this.reason = reason;
        }
    }

    static Status notFound(String message) {
        return new Status(404, "Not Found", message);
    }

    static Front.Reply of(Throwable e, String path) {
        Throwable t = unwrap(e);
        if (t instanceof Status s) {
            return reply(s.status, s.reason, s.getMessage(), path, null);
        }
        if (t instanceof FlowProcessingException fpe && fpe.getCause() instanceof ConstraintViolationException cve) {
            t = cve;
        }
        if (t instanceof ConstraintViolationException cve) {
            List<Map<String, Object>> errors = cve.getConstraintViolations().stream()
                .map(v -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("message", v.getMessage());
                    m.put("path", paths.apply(v));
                    return m;
                })
                .toList();
            return reply(422, "Invalid entity", cve.getMessage(), path, errors);
        }
        if (t instanceof InputOutputValidationException) {
            return reply(422, "Invalid entity", t.getMessage(), path, null);
        }
        if (t instanceof InvalidException ie) {
            Object invalid = ie.invalidObject();
            return reply(422, "Invalid " + (invalid == null ? "entity" : invalid.getClass().getSimpleName()), t.getMessage(), path, null);
        }
        if (t instanceof io.kestra.core.exceptions.InvalidQueryFiltersException) {
            return reply(400, "Invalid query filters", t.getMessage(), path, null);
        }
        if (t instanceof FlowProcessingException) {
            Throwable cause = t.getCause() != null ? t.getCause() : t;
            return reply(422, "Invalid entity", cause.getMessage(), path, List.of(Map.of("message", String.valueOf(cause.getMessage()))));
        }
        if (t instanceof ConflictException) {
            return reply(409, "Conflict", t.getMessage(), path, null);
        }
        if (t instanceof NotFoundException || t instanceof NoSuchElementException) {
            return reply(404, "Not Found", t.getMessage(), path, null);
        }
        if (t instanceof IllegalArgumentException) {
            return reply(422, "Illegal argument", t.getMessage(), path, null);
        }
        if (t instanceof IllegalStateException) {
            return reply(409, "Illegal state", t.getMessage(), path, null);
        }
        System.err.println("real-kestra: internal error on " + path);
        t.printStackTrace();
        return reply(500, "Internal server error", String.valueOf(t), path, null);
    }

    static Front.Reply reply(int status, String reason, String detail, String path, List<Map<String, Object>> errors) {
        Map<String, Object> body = new LinkedHashMap<>();
        if (major >= 2) {
            body.put("type", "about:blank");
            body.put("title", reason);
            body.put("status", status);
            if (detail != null) {
                body.put("detail", detail);
            }
            body.put("instance", path);
            if (errors != null) {
                body.put("errors", errors);
            }
            return new Front.Reply(status, body, "application/problem+json");
        }
        body.put("message", detail == null ? reason : reason + ": " + detail);
        body.put("_links", Map.of("self", Map.of("href", path, "templated", false)));
        if (errors != null) {
            body.put("_embedded", Map.of("errors", errors));
        }
        return new Front.Reply(status, body, "application/json");
    }

    private static Throwable unwrap(Throwable e) {
        Throwable t = e;
        while ((t instanceof CompletionException || t instanceof ExecutionException
            || t.getClass().getName().equals("reactor.core.Exceptions$ReactiveException")
            || (t.getClass() == RuntimeException.class && t.getCause() != null))
            && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
