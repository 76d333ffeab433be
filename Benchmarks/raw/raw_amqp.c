/*
 * The ceiling: a minimal rabbitmq-c publisher and consumer with no work in them, the yardstick for
 * JobCast's own figures. Persistent messages of SIZE bytes, publisher confirms with a window of WINDOW
 * unconfirmed messages, a consumer with prefetch PREFETCH acking each message.
 *
 *   raw_amqp publish HOST PORT QUEUE COUNT SIZE WINDOW   -> prints "publish <count> <seconds>"
 *   raw_amqp consume HOST PORT QUEUE COUNT PREFETCH      -> prints "consume <count> <seconds>"
 *
 * Build: cc -O2 -o raw_amqp raw_amqp.c -lrabbitmq
 */
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die_on_reply(amqp_rpc_reply_t reply, const char *what) {
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf(stderr, "%s failed (reply type %d, library error %s)\n", what, reply.reply_type,
                amqp_error_string2(reply.library_error));
        exit(1);
    }
}

static amqp_connection_state_t open_connection(const char *host, int port) {
    amqp_connection_state_t conn = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(conn);
    if (amqp_socket_open(socket, host, port) != AMQP_STATUS_OK) {
        fprintf(stderr, "cannot connect to %s:%d\n", host, port);
        exit(1);
    }
    die_on_reply(amqp_login(conn, "/", 0, 131072, 30, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "channel.open");
    return conn;
}

static int publish(const char *host, int port, const char *queue, long count, size_t size, long window) {
    amqp_connection_state_t conn = open_connection(host, port);
    amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 1, 0, 0, amqp_empty_table);
    die_on_reply(amqp_get_rpc_reply(conn), "queue.declare");
    amqp_confirm_select(conn, 1);
    die_on_reply(amqp_get_rpc_reply(conn), "confirm.select");

    char *payload = malloc(size);
    memset(payload, 'j', size);
    amqp_bytes_t body = {size, payload};
    amqp_basic_properties_t props;
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = 2;
    char id[32];

    uint64_t confirmed = 0;
    long sent = 0;
    double start = now();
    while (confirmed < (uint64_t)count) {
        while (sent < count && (long)(sent - (long)confirmed) < window) {
            snprintf(id, sizeof id, "raw-%ld", sent);
            props.message_id = amqp_cstring_bytes(id);
            if (amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props, body) != 0) {
                fprintf(stderr, "publish failed\n");
                return 1;
            }
            sent++;
        }
        amqp_frame_t frame;
        if (amqp_simple_wait_frame(conn, &frame) != AMQP_STATUS_OK) {
            fprintf(stderr, "connection lost\n");
            return 1;
        }
        if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
            amqp_basic_ack_t *ack = frame.payload.method.decoded;
            confirmed = ack->multiple ? ack->delivery_tag : confirmed + 1;
        }
        amqp_maybe_release_buffers(conn);
    }
    double elapsed = now() - start;
    printf("publish %ld %.6f\n", count, elapsed);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    free(payload);
    return 0;
}

static int consume(const char *host, int port, const char *queue, long count, int prefetch) {
    amqp_connection_state_t conn = open_connection(host, port);
    amqp_basic_qos(conn, 1, 0, prefetch, 0);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.qos");
    amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    die_on_reply(amqp_get_rpc_reply(conn), "basic.consume");
    long received = 0;
    double start = 0;
    while (received < count) {
        amqp_envelope_t envelope;
        amqp_maybe_release_buffers(conn);
        amqp_rpc_reply_t reply = amqp_consume_message(conn, &envelope, NULL, 0);
        die_on_reply(reply, "consume");
        if (received == 0) start = now();
        amqp_basic_ack(conn, 1, envelope.delivery_tag, 0);
        amqp_destroy_envelope(&envelope);
        received++;
    }
    double elapsed = now() - start;
    printf("consume %ld %.6f\n", count, elapsed);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(conn);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 7 && strcmp(argv[1], "publish") == 0)
        return publish(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), (size_t)atol(argv[6]), argc > 7 ? atol(argv[7]) : 1000);
    if (argc >= 6 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], atoi(argv[3]), argv[4], atol(argv[5]), argc > 6 ? atoi(argv[6]) : 200);
    fprintf(stderr, "usage: raw_amqp publish HOST PORT QUEUE COUNT SIZE [WINDOW] | consume HOST PORT QUEUE COUNT [PREFETCH]\n");
    return 2;
}
