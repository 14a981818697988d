package io.mfo.realkestra;

import io.kestra.core.exceptions.FlowProcessingException;
import io.kestra.core.exceptions.InputOutputValidationException;
import jakarta.validation.ConstraintViolationException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Exceptions raised by the engine -> the status and JSON error body Kestra's webserver gives them
 * (its global error handler: constraint violations and illegal arguments 422, illegal state 409,
 * missing elements 404, anything else 500; body {@code {message, _links.self, _embedded.errors}}).
 */
final class Errors {
    private Errors() {
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
            return reply(s.status, s.getMessage() == null ? s.reason : s.reason + ": " + s.getMessage(), path, null);
        }
        if (t instanceof FlowProcessingException fpe && fpe.getCause() instanceof ConstraintViolationException cve) {
            t = cve;
        }
        if (t instanceof ConstraintViolationException cve) {
            List<Map<String, Object>> errors = cve.getConstraintViolations().stream()
                .map(v -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("message", v.getMessage());
                    m.put("path", String.valueOf(v.getPropertyPath()));
                    return m;
                })
                .toList();
            return reply(422, "Invalid entity: " + cve.getMessage(), path, errors);
        }
        if (t instanceof InputOutputValidationException) {
            return reply(422, "Invalid entity: " + t.getMessage(), path, List.of(Map.of("message", String.valueOf(t.getMessage()))));
        }
        if (t instanceof FlowProcessingException) {
            Throwable cause = t.getCause() != null ? t.getCause() : t;
            return reply(422, "Invalid entity: " + cause.getMessage(), path, List.of(Map.of("message", String.valueOf(cause.getMessage()))));
        }
        if (t instanceof IllegalArgumentException) {
            return reply(422, "Illegal argument: " + t.getMessage(), path, null);
        }
        if (t instanceof IllegalStateException) {
            return reply(409, "Illegal state: " + t.getMessage(), path, null);
        }
        if (t instanceof NoSuchElementException) {
            return reply(404, "Not Found: " + t.getMessage(), path, null);
        }
        System.err.println("real-kestra: internal error on " + path);
        t.printStackTrace();
        return reply(500, "Internal server error: " + t, path, null);
    }

    static Front.Reply reply(int status, String message, String path, List<Map<String, Object>> errors) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("message", message);
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
            || (t instanceof RuntimeException && t.getClass() == RuntimeException.class && t.getCause() != null))
            && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }
}
