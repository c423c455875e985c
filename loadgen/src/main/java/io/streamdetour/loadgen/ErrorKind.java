package io.streamdetour.loadgen;

/** What went wrong with a session or a connection; the summary counts each as {@code err_<key>}. */
enum ErrorKind {
  /** A QUIC connection could not be set up (handshake failed or timed out). */
  CONNECT("connect"),
  /** A stream pair could not be opened on a connection. */
  STREAM_OPEN("stream_open"),
  /** Writing a header or data failed locally (the stream or connection was gone). */
  WRITE("write"),
  /** The 4-byte reply did not come within --request-timeout. */
  REPLY_TIMEOUT("reply_timeout"),
  /** The north stream ended before the 4-byte reply was complete. */
  REPLY_SHORT("reply_short"),
  /** The reply echoed another match id than the session's. */
  INVALID_MATCH_ID("invalid_match_id"),
  /** The reply's action was not --expect-action. */
  UNEXPECTED_ACTION("unexpected_action"),
  /** An echoed byte differed from what was sent. */
  DATA_MISMATCH("data_mismatch"),
  /** An echo ended before all that was sent came back (or the server finished first). */
  SHORT_DATA("short_data"),
  /** More came back than was sent. */
  EXCESS_DATA("excess_data"),
  /** The server reset a stream (RESET_STREAM) or stopped one (STOP_SENDING). */
  RESET("reset"),
  /** The connection closed under a running session. */
  CONNECTION_CLOSED("connection_closed"),
  /** The data phase took longer than --relay-timeout. */
  RELAY_TIMEOUT("relay_timeout");

  final String key;

  ErrorKind(String key) {
    this.key = key;
  }
}
