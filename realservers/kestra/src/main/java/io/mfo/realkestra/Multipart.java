package io.mfo.realkestra;

import io.micronaut.http.MediaType;
import io.micronaut.http.multipart.CompletedFileUpload;
import io.micronaut.http.multipart.CompletedPart;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * multipart/form-data body -> Micronaut's {@link CompletedPart}s, the type Kestra's own
 * {@code FlowInputOutput.readExecutionInputs} consumes (text parts and file uploads).
 */
final class Multipart {
    private static final Pattern BOUNDARY = Pattern.compile("boundary=\"?([^\";]+)\"?", Pattern.CASE_INSENSITIVE);
    private static final Pattern NAME = Pattern.compile("[; ]name=\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);
    private static final Pattern FILENAME = Pattern.compile("filename=\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);

    private Multipart() {
    }

    static List<CompletedPart> parse(String contentType, byte[] body) {
        List<CompletedPart> parts = new ArrayList<>();
        if (contentType == null || body.length == 0) {
            return parts;
        }
        Matcher m = BOUNDARY.matcher(contentType);
        if (!m.find()) {
            throw new IllegalArgumentException("multipart body without boundary");
        }
        byte[] delimiter = ("--" + m.group(1)).getBytes(StandardCharsets.ISO_8859_1);
        int pos = indexOf(body, delimiter, 0);
        while (pos >= 0) {
            int start = pos + delimiter.length;
            if (start + 1 < body.length && body[start] == '-' && body[start + 1] == '-') {
                break;  // closing delimiter
            }
            start = skipCrlf(body, start);
            int next = indexOf(body, delimiter, start);
            if (next < 0) {
                break;
            }
            int end = next;
            if (end >= 2 && body[end - 2] == '\r' && body[end - 1] == '\n') {
                end -= 2;
            }
            int headerEnd = indexOf(body, "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1), start);
            if (headerEnd >= 0 && headerEnd < end) {
                String headers = new String(body, start, headerEnd - start, StandardCharsets.UTF_8);
                byte[] content = java.util.Arrays.copyOfRange(body, headerEnd + 4, end);
                parts.add(part(headers, content));
            }
            pos = next;
        }
        return parts;
    }

    private static CompletedPart part(String headers, byte[] content) {
        String name = null;
        String filename = null;
        MediaType type = null;
        for (String line : headers.split("\r\n")) {
            String lower = line.toLowerCase(Locale.ROOT);
            if (lower.startsWith("content-disposition:")) {
                Matcher n = NAME.matcher(line);
                if (n.find()) {
                    name = n.group(1);
                }
                Matcher f = FILENAME.matcher(line);
                if (f.find()) {
                    filename = f.group(1);
                }
            } else if (lower.startsWith("content-type:")) {
                type = MediaType.of(line.substring(line.indexOf(':') + 1).trim());
            }
        }
        return filename == null ? new Text(name, content, type) : new File(name, filename, content, type);
    }

    private static int skipCrlf(byte[] body, int i) {
        return i + 1 < body.length && body[i] == '\r' && body[i + 1] == '\n' ? i + 2 : i;
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = Math.max(from, 0); i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static class Text implements CompletedPart {
        final String name;
        final byte[] content;
        final MediaType type;

        Text(String name, byte[] content, MediaType type) {
            this.name = name;
            this.content = content;
            this.type = type;
        }

        @Override
        public String getName() {
            return name;
        }

        @Override
        public InputStream getInputStream() {
            return new ByteArrayInputStream(content);
        }

        @Override
        public byte[] getBytes() {
            return content;
        }

        @Override
        public ByteBuffer getByteBuffer() {
            return ByteBuffer.wrap(content);
        }

        @Override
        public Optional<MediaType> getContentType() {
            return Optional.ofNullable(type);
        }
    }

    private static final class File extends Text implements CompletedFileUpload {
        final String filename;

        File(String name, String filename, byte[] content, MediaType type) {
            super(name, content, type);
            this.filename = filename;
        }

        @Override
        public String getFilename() {
            return filename;
        }

        @Override
        public long getSize() {
            return content.length;
        }

        @Override
        public long getDefinedSize() {
            return content.length;
        }

        @Override
        public boolean isComplete() {
            return true;
        }
    }
}
