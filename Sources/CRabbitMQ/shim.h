// C shim for rabbitmq-c: finds the headers in either layout and wraps what Swift cannot call
// (the variadic amqp_login) or import (method ids and flags defined as cast macros).
#ifndef JOBCAST_CRABBITMQ_SHIM_H
#define JOBCAST_CRABBITMQ_SHIM_H

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/framing.h>
#include <rabbitmq-c/tcp_socket.h>
#include <rabbitmq-c/ssl_socket.h>
#else
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>
#endif

#include <stdint.h>

static inline amqp_rpc_reply_t jc_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max,
                                              int frame_max, int heartbeat, const amqp_table_t *properties,
                                              const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_PLAIN, user, password);
}

static inline amqp_rpc_reply_t jc_login_external(amqp_connection_state_t state, const char *vhost, int channel_max,
                                                 int frame_max, int heartbeat, const amqp_table_t *properties,
                                                 const char *identity) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                      AMQP_SASL_METHOD_EXTERNAL, identity);
}

// Method ids (the header defines them as casts, which Swift does not import).
static inline amqp_method_number_t jc_method_basic_deliver(void) { return AMQP_BASIC_DELIVER_METHOD; }
static inline amqp_method_number_t jc_method_basic_return(void) { return AMQP_BASIC_RETURN_METHOD; }
static inline amqp_method_number_t jc_method_basic_ack(void) { return AMQP_BASIC_ACK_METHOD; }
static inline amqp_method_number_t jc_method_basic_nack(void) { return AMQP_BASIC_NACK_METHOD; }
static inline amqp_method_number_t jc_method_basic_cancel(void) { return AMQP_BASIC_CANCEL_METHOD; }
static inline amqp_method_number_t jc_method_basic_get_ok(void) { return AMQP_BASIC_GET_OK_METHOD; }
static inline amqp_method_number_t jc_method_channel_close(void) { return AMQP_CHANNEL_CLOSE_METHOD; }
static inline amqp_method_number_t jc_method_channel_close_ok(void) { return AMQP_CHANNEL_CLOSE_OK_METHOD; }
static inline amqp_method_number_t jc_method_connection_close(void) { return AMQP_CONNECTION_CLOSE_METHOD; }
static inline amqp_method_number_t jc_method_connection_close_ok(void) { return AMQP_CONNECTION_CLOSE_OK_METHOD; }
static inline amqp_method_number_t jc_method_connection_blocked(void) { return AMQP_CONNECTION_BLOCKED_METHOD; }
static inline amqp_method_number_t jc_method_connection_unblocked(void) { return AMQP_CONNECTION_UNBLOCKED_METHOD; }

// Basic property flags.
static inline amqp_flags_t jc_flag_content_type(void) { return AMQP_BASIC_CONTENT_TYPE_FLAG; }
static inline amqp_flags_t jc_flag_content_encoding(void) { return AMQP_BASIC_CONTENT_ENCODING_FLAG; }
static inline amqp_flags_t jc_flag_headers(void) { return AMQP_BASIC_HEADERS_FLAG; }
static inline amqp_flags_t jc_flag_delivery_mode(void) { return AMQP_BASIC_DELIVERY_MODE_FLAG; }
static inline amqp_flags_t jc_flag_priority(void) { return AMQP_BASIC_PRIORITY_FLAG; }
static inline amqp_flags_t jc_flag_correlation_id(void) { return AMQP_BASIC_CORRELATION_ID_FLAG; }
static inline amqp_flags_t jc_flag_reply_to(void) { return AMQP_BASIC_REPLY_TO_FLAG; }
static inline amqp_flags_t jc_flag_expiration(void) { return AMQP_BASIC_EXPIRATION_FLAG; }
static inline amqp_flags_t jc_flag_message_id(void) { return AMQP_BASIC_MESSAGE_ID_FLAG; }
static inline amqp_flags_t jc_flag_timestamp(void) { return AMQP_BASIC_TIMESTAMP_FLAG; }
static inline amqp_flags_t jc_flag_type(void) { return AMQP_BASIC_TYPE_FLAG; }
static inline amqp_flags_t jc_flag_user_id(void) { return AMQP_BASIC_USER_ID_FLAG; }
static inline amqp_flags_t jc_flag_app_id(void) { return AMQP_BASIC_APP_ID_FLAG; }

#endif
