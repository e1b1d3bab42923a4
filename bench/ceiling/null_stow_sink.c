/*
 * A STOW-RS sink that does no work: it reads each HTTP/1.1 request on 127.0.0.1 (headers, then a Content-Length body),
 * discards it and answers 200 with "{}". The harness's ingest client pointed at it measures how fast the client itself
 * can send, which bounds any server's figure in the same workload. Keep-alive, one thread per connection.
 * Given a FILE, it does the one thing a server that keeps every acknowledged instance must do as well: it appends each
 * body to FILE and flushes it (fdatasync) before answering, one flush per request.
 *   null_stow_sink PORT [FILE]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUFFER_LENGTH = 1 << 20 };

static int durable_file = -1;
static long durable_end; /* where the next body goes in durable_file */

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nContent-Length: 2\r\n\r\n{}";

static void *serve_connection(void *argument)
{
    int connection = (int)(long)argument;
    char *buffer = malloc(BUFFER_LENGTH);
    long buffered = 0;
    for (;;) {
        char *header_end;
        while (!(header_end = memmem(buffer, buffered, "\r\n\r\n", 4))) {
            if (buffered == BUFFER_LENGTH) goto done; /* headers over 1 MiB: not a harness request */
            long n = read(connection, buffer + buffered, BUFFER_LENGTH - buffered);
            if (n <= 0) goto done;
            buffered += n;
        }
        *header_end = '\0';
        char *length_field = strcasestr(buffer, "\r\ncontent-length:");
        long body_length = length_field ? atol(length_field + 17) : 0;
        long header_length = header_end + 4 - buffer;
        long body_buffered = buffered - header_length;
        long still_to_read = body_length - body_buffered;
        long body_at = durable_file >= 0 ? __atomic_fetch_add(&durable_end, body_length, __ATOMIC_RELAXED) : 0;
        long body_in_buffer = body_buffered < body_length ? body_buffered : body_length;
        if (durable_file >= 0 && pwrite(durable_file, header_end + 4, body_in_buffer, body_at) != body_in_buffer) goto done;
        body_at += body_in_buffer;
        while (still_to_read > 0) {
            long n = read(connection, buffer, still_to_read < BUFFER_LENGTH ? still_to_read : BUFFER_LENGTH);
            if (n <= 0) goto done;
            if (durable_file >= 0 && pwrite(durable_file, buffer, n, body_at) != n) goto done;
            body_at += n;
            still_to_read -= n;
        }
        if (durable_file >= 0 && fdatasync(durable_file) != 0) goto done;
        long next_request = body_buffered > body_length ? body_buffered - body_length : 0;
        memmove(buffer, buffer + header_length + body_length, next_request);
        buffered = next_request;
        if (write(connection, RESPONSE, sizeof RESPONSE - 1) != (long)sizeof RESPONSE - 1) goto done;
    }
done:
    close(connection);
    free(buffer);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) { fprintf(stderr, "usage: %s PORT [FILE]\n", argv[0]); return 2; }
    if (argc == 3 && (durable_file = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0) { perror(argv[2]); return 1; }
    int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 64)) { perror("null_stow_sink"); return 1; }
    for (;;) {
        int connection = accept(listener, NULL, NULL);
        if (connection < 0) continue;
        setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
        pthread_t thread;
        if (pthread_create(&thread, NULL, serve_connection, (void *)(long)connection) == 0) pthread_detach(thread);
        else close(connection);
    }
}
